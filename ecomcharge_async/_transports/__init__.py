"""The HTTP transports (aiohttp, httpx) and what they share."""
