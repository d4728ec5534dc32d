"""The core: the client, the Customers service, models, JSON, errors, the request path."""
