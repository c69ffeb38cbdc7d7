"""Finished sweep points on disk, one file each, so a killed run loses none of them.

``DIR/points/<key>.json`` holds one measured point: the key is a digest of what the
point's result depends on (the complete config, engine, simulator, traffic and timing,
and the generator version), so a rerun of the same command finds it and a changed
parameter does not. ``DIR/configs/<key>.json`` holds each config's geometry (what
:func:`sim.sweep.sweep_result` needs besides the points). Every file is written to a
temporary name and renamed into place: a file is either whole or absent.
"""

import hashlib
import json
import os
from pathlib import Path

__all__ = ["ResultStore", "digest"]

#: bump when a point's content changes meaning, so old results are not reused
STORE_REVISION = 1


def digest(identity):
    """A stable 20-hex-digit key of a JSON-able ``identity``."""
    from gen.build import GENERATOR_VERSION
    text = json.dumps({"identity": identity, "store": STORE_REVISION,
                       "generator": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ResultStore:
    """Points and config geometries under ``root`` (``None``: kept in memory only)."""

    def __init__(self, root=None):
        self.root = Path(root) if root is not None else None
        self.memory = {}
        if self.root is not None:
            for sub in ("points", "configs"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _path(self, kind, key):
        return self.root / kind / f"{key}.json"

    def load(self, kind, key):
        """The record saved under ``key``, or None (also for a file that does not parse
        or belongs to another key: that point is simply measured again)."""
        if (kind, key) in self.memory:
            return self.memory[kind, key]
        if self.root is None:
            return None
        try:
            record = json.loads(self._path(kind, key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        self.memory[kind, key] = record
        return record

    def save(self, kind, key, record):
        record = {"key": key, **record}
        self.memory[kind, key] = record
        if self.root is None:
            return record
        path = self._path(kind, key)
        tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, path)
        return record

    def clear(self):
        """Forget every saved point and geometry (``--fresh``)."""
        self.memory.clear()
        if self.root is not None:
            for sub in ("points", "configs"):
                for path in (self.root / sub).glob("*.json"):
                    path.unlink()
