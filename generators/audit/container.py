"""The certificate container, read generically: 8-byte magic, u64 LE header length, JSON
header, binary payload.  Nothing here knows field names, rules or format versions: arrays
are found as any JSON object in the header carrying integer ``offset`` and ``nbytes``
(or ``data_offsets`` [start, end]) that lie inside the payload, with an optional ``dtype``
whose digits give the element size."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

Path_ = tuple[Any, ...]  # a path into the JSON header: keys and list indices


@dataclass(frozen=True)
class Region:
    """Payload bytes [start, start + nbytes) declared at ``path``, elements of ``item`` bytes."""

    path: Path_
    start: int
    nbytes: int
    item: int


@dataclass(frozen=True)
class Container:
    magic: bytes
    header: Any
    payload: bytes

    def encode(self, header: Any | None = None, payload: bytes | None = None) -> bytes:
        h = self.header if header is None else header
        text = json.dumps(h, separators=(",", ":"), allow_nan=False).encode("utf-8")
        body = self.payload if payload is None else payload
        return self.magic + len(text).to_bytes(8, "little") + text + body


def parse(raw: bytes) -> Container | None:
    """The container in ``raw``, or None if it is not one (then only byte-level mutants)."""
    if len(raw) < 16:
        return None
    n = int.from_bytes(raw[8:16], "little")
    if 16 + n > len(raw):
        return None
    try:
        header = json.loads(raw[16 : 16 + n].decode("utf-8"))
    except ValueError:
        return None
    return Container(raw[:8], header, raw[16 + n :])


def walk(obj: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every node of the JSON tree with its path, parents before children."""
    out = [(path, obj)]
    if isinstance(obj, dict):
        for key, val in obj.items():
            out += walk(val, (*path, key))
    elif isinstance(obj, list):
        for i, val in enumerate(obj):
            out += walk(val, (*path, i))
    return out


def get(obj: Any, path: Path_) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def _item_size(decl: dict[str, Any]) -> int:
    dt = decl.get("dtype")
    digits = re.findall(r"[0-9]+", dt) if isinstance(dt, str) else []
    if not digits:
        return 1
    n = int(digits[-1])
    return n // 8 if n in (16, 32, 64, 128) else max(1, n)  # bits ("F32") or bytes ("f8")


def regions(c: Container) -> list[Region]:
    """Array regions declared in the header (see the module docstring); if none is found,
    the whole payload as one region of bytes."""
    out = []
    for path, node in walk(c.header):
        if not isinstance(node, dict):
            continue
        start = node.get("offset")
        nbytes = node.get("nbytes")
        if isinstance(node.get("data_offsets"), list) and len(node["data_offsets"]) == 2:
            start, end = node["data_offsets"]
            nbytes = end - start if isinstance(end, int) and isinstance(start, int) else None
        if (
            isinstance(start, int)
            and isinstance(nbytes, int)
            and start >= 0
            and nbytes > 0
            and start + nbytes <= len(c.payload)
        ):
            out.append(Region(path, start, nbytes, _item_size(node)))
    if not out and c.payload:
        out.append(Region((), 0, len(c.payload), 1))
    return out
