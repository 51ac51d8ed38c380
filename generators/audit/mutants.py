"""Single-field mutants of a certificate, generic over its JSON header and binary arrays.

Every JSON leaf is mutated by type (integers +-1, 0, -1, 2^53+1, 2^64, 10^400; rationals
"p/q" up and down, to 1, to huge, to a zero denominator; hex strings one digit off; other
strings emptied, extended or swapped for another string of the header -- which turns a rule
name into another rule, a reference into another step; booleans flipped; floats one ulp);
every list loses, duplicates, swaps or reverses elements (step deletion, duplication and
reordering); every object loses a key or gains an unknown one; every array region gets its
lowest bit (one ulp of a little-endian float), its sign bit and a random bit flipped, and
is zeroed or filled; the header length and the file are cut and extended; and random byte
flips.  No field or rule name is known here, so the mutants follow the format as it changes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from generators.audit.container import Container, Path_, parse, regions, walk

_RAT = re.compile(r"^(-?[0-9]+)/([0-9]+)$")
_HEX = re.compile(r"^[0-9a-f]{16,}$")
HUGE = 10**400


@dataclass(frozen=True)
class Mutant:
    name: str
    data: bytes


_DELETE = object()  # the value that removes a node in :func:`replace_at`


def replace_at(obj: Any, path: Path_, value: Any) -> Any:
    """A copy of ``obj`` with the node at ``path`` replaced (``_DELETE`` removes it)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    out: Any = dict(obj) if isinstance(obj, dict) else list(obj)
    new = replace_at(obj[head], rest, value)
    if new is _DELETE:
        del out[head]
    else:
        out[head] = new
    return out


def _label(path: Path_) -> str:
    return "/".join(str(p) for p in path) or "<root>"


def _int_values(x: int) -> list[Any]:
    return [x + 1, x - 1, 0, -1, 2**53 + 1, 2**64, HUGE, str(x), float(x) + 0.5]


def _rational_values(p: int, q: int) -> list[Any]:
    out = [f"{p + 1}/{q}", f"{p - 1}/{q}", f"{p}/{q + 1}", "1/1", "1", f"{p}/0", f"{HUGE}/1"]
    out += [f"{HUGE * p + 1}/{HUGE * q}", f"{2 * p}/{2 * q}", f"-{p}/{q}", f"{p}.0/{q}"]
    if q > 1:
        out.append(f"{p}/{q - 1}")
    return out


def _string_values(s: str, others: list[str]) -> list[Any]:
    mt = _RAT.match(s)
    if mt:
        return _rational_values(int(mt[1]), int(mt[2]))
    out: list[Any] = ["", s + "x", s * 2, 0, None]
    if _HEX.match(s):
        out.append(s[:-1] + ("0" if s[-1] != "0" else "1"))
        out.append(s.upper())
    out += [o for o in others if o != s][:3]
    return out


def _leaf_values(node: Any, others: list[str]) -> list[Any]:
    if isinstance(node, bool):
        return [not node, 1 if node else 0, None]
    if isinstance(node, int):
        return _int_values(node)
    if isinstance(node, float):
        return [math.nextafter(node, math.inf), -node, 0.0, 1e308, int(node) + 1]
    if isinstance(node, str):
        return _string_values(node, others)
    if node is None:
        return [0, "", False]
    return []


def _list_values(node: list[Any]) -> list[tuple[str, Any]]:
    n = len(node)
    out: list[tuple[str, Any]] = [("empty", [])]
    idx = range(n) if n <= 12 else sorted({0, 1, n // 2, n - 2, n - 1})
    for i in idx:
        out.append((f"drop[{i}]", node[:i] + node[i + 1 :]))
        out.append((f"dup[{i}]", node[: i + 1] + [node[i]] + node[i + 1 :]))
        if i + 1 < n:
            out.append((f"swap[{i}]", node[:i] + [node[i + 1], node[i]] + node[i + 2 :]))
    if n > 1:
        out.append(("reverse", node[::-1]))
        out.append(("append-first", [*node, node[0]]))
    return out


def header_mutants(c: Container) -> Iterator[Mutant]:
    """Every single-field mutant of the JSON header (the payload unchanged)."""
    nodes = walk(c.header)
    strings = sorted({n for _, n in nodes if isinstance(n, str)}, key=lambda s: (len(s), s))
    for path, node in nodes:
        where = _label(path)
        if isinstance(node, dict):
            for key in list(node):
                yield Mutant(
                    f"json:{where}:del[{key}]",
                    c.encode(replace_at(c.header, (*path, key), _DELETE)),
                )
            yield Mutant(
                f"json:{where}:add-key", c.encode(replace_at(c.header, path, {**node, "zz": 0}))
            )
        elif isinstance(node, list):
            for what, val in _list_values(node):
                yield Mutant(f"json:{where}:{what}", c.encode(replace_at(c.header, path, val)))
        else:
            for val in _leaf_values(node, strings):
                label = f"{val!r}"[:40]
                try:
                    data = c.encode(replace_at(c.header, path, val))
                except (ValueError, OverflowError):
                    continue
                yield Mutant(f"json:{where}={label}", data)


def array_mutants(c: Container, rng: np.random.Generator) -> Iterator[Mutant]:
    """Bit and element mutants of every array region of the payload."""
    for r in regions(c):
        where = _label(r.path) or "payload"
        n_items = max(1, r.nbytes // r.item)
        i = int(rng.integers(n_items))
        first, last = r.start + i * r.item, r.start + min((i + 1) * r.item, r.nbytes) - 1
        for what, pos, bit in (("ulp", first, 0), ("sign", last, 7)):
            yield Mutant(f"array:{where}[{i}]:{what}", c.encode(payload=_flip(c.payload, pos, bit)))
        pos = r.start + int(rng.integers(r.nbytes))
        bit = int(rng.integers(8))
        yield Mutant(
            f"array:{where}:byte{pos - r.start}.bit{bit}",
            c.encode(payload=_flip(c.payload, pos, bit)),
        )
        for what, fill in (("zero", 0), ("ones", 0xFF)):
            body = c.payload[: r.start] + bytes([fill]) * r.nbytes + c.payload[r.start + r.nbytes :]
            yield Mutant(f"array:{where}:{what}", c.encode(payload=body))


def _flip(data: bytes, pos: int, bit: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 1 << bit
    return bytes(b)


def framing_mutants(raw: bytes) -> Iterator[Mutant]:
    """Truncations, extensions and header-length changes of the file."""
    n = len(raw)
    hlen = int.from_bytes(raw[8:16], "little") if n >= 16 else 0
    cuts = sorted(
        {0, 1, 7, 8, 15, 16, 16 + hlen // 2, 16 + hlen - 1, 16 + hlen, n - 1, (16 + hlen + n) // 2}
    )
    for cut in cuts:
        if 0 <= cut < n:
            yield Mutant(f"truncate@{cut}", raw[:cut])
    yield Mutant("append-zero", raw + b"\0")
    yield Mutant("append-garbage", raw + b"MECHPROF" * 4)
    if n >= 16:
        for what, val in (("+1", hlen + 1), ("-1", hlen - 1), ("huge", 2**64 - 1), ("2^62", 2**62)):
            if 0 <= val < 2**64:
                yield Mutant(f"header-length{what}", raw[:8] + val.to_bytes(8, "little") + raw[16:])
        yield Mutant("magic", b"X" + raw[1:])


def byte_flips(raw: bytes, rng: np.random.Generator, n: int) -> Iterator[Mutant]:
    for _ in range(n if raw else 0):
        pos = int(rng.integers(len(raw)))
        bit = int(rng.integers(8))
        yield Mutant(f"flip:byte{pos}.bit{bit}", _flip(raw, pos, bit))


def all_mutants(raw: bytes, rng: np.random.Generator, flips: int) -> list[Mutant]:
    """Every single-field mutant of the certificate ``raw`` plus ``flips`` random byte flips,
    in a deterministic order (given ``rng``), without duplicates or the original itself."""
    c = parse(raw)
    found: list[Mutant] = []
    if c is not None:
        found += header_mutants(c)
        found += array_mutants(c, rng)
    found += framing_mutants(raw)
    found += byte_flips(raw, rng, flips)
    seen, out = {raw}, []
    for m in found:
        if m.data not in seen:
            seen.add(m.data)
            out.append(m)
    return out


def sample(mutants: list[Mutant], rng: np.random.Generator, cap: int | None) -> list[Mutant]:
    """At most ``cap`` of them, chosen at random but keeping their order (None: all)."""
    if cap is None or len(mutants) <= cap:
        return mutants
    keep = np.sort(rng.choice(len(mutants), size=cap, replace=False))
    return [mutants[int(i)] for i in keep]
