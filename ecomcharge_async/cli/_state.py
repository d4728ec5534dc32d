"""Where an import keeps its journal when none is named: the per-user state folder.

`$ECOMCHARGE_STATE_DIR`, else `$XDG_STATE_HOME/ecomcharge`, else
`~/.local/state/ecomcharge`; never beside the input (which may be on a share, or
read-only). The journal's name comes from the shop, the API base URL and the
input's absolute path (and the shard), so running the same command again finds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

STATE_ENV = "ECOMCHARGE_STATE_DIR"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder default journals live in (not created here)."""
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "ecomcharge"
    return Path("~/.local/state/ecomcharge").expanduser()


def default_journal(
    shop_id: str, base_url: str, input_path: str, shard: tuple[int, int] | None
) -> str:
    """The default journal's path for this import; its folder is created (mode 0700)."""
    absolute = os.path.abspath(input_path)
    identity = json.dumps([shop_id, base_url, absolute, list(shard) if shard else None])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    stem = _UNSAFE.sub("_", Path(absolute).stem)[:40] or "input"
    name = f"{stem}-{digest}"
    if shard is not None:
        name += f"-shard-{shard[0]}-of-{shard[1]}"
    folder = state_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"cannot create the journal folder {folder}: {exc.strerror or exc} "
            f"(set {STATE_ENV}, or give --journal PATH or --no-journal)"
        ) from None
    return str(folder / f"{name}.journal")
