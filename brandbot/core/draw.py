"""Fair, auditable draws: commit to a secret seed, draw with it, let anyone check.

The protocol (what the giveaway plugin does, and what an auditor re-does):

1. When a giveaway opens, the bot picks ``seed = new_seed()``, keeps it secret and
   publishes ``commitment(seed)``: the SHA-256 of the seed. The seed cannot be changed
   afterwards without the commitment giving it away.
2. When it closes, the bot runs ``draw(seed, entries, n)`` on the anonymous entry ids
   and publishes the winners *and the seed*.
3. Anyone checks that SHA-256(seed) equals the commitment published at opening and
   that re-running the draw gives the same winners (:func:`verify`, :func:`verify_export`,
   or ``brandbot giveaway verify FILE``).

The draw algorithm, ``brandbot-draw-v1``, is written so it can be re-implemented in any
language with SHA-256 and HMAC; it uses no random-number generator (Python's ``random``
changes between versions and exists nowhere else):

    pool = the distinct entry ids, sorted by Unicode code point (= UTF-8 byte order)
    for i = 0, 1, ..., min(n, len(pool)) - 1:
        d = HMAC-SHA256(key = UTF-8 bytes of the seed text,
                        message = ASCII bytes of i in decimal ("0", "1", ...))
        k = d read as a 256-bit big-endian unsigned integer, modulo len(pool)
        winner number i+1 is pool[k]; remove pool[k] from the pool

The modulo bias is below len(pool) / 2**256: no real draw can tell. Because pick ``i``
depends only on ``i`` and the pool left after the earlier picks, drawing more winners
extends the list: ``draw(s, e, n + 1)[:n] == draw(s, e, n)``. That is how a prize that
nobody claims is redrawn, and the redraw is as verifiable as the first draw.

Entry ids in a published list are anonymous: :func:`entry_id` hashes the person's
network identity with a per-giveaway secret that is never published, so nobody can
tell who an id is, nor link one person's entries across giveaways; the bot tells each
entrant their own id so they can find it in the list.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The name of the algorithm above; exports carry it so a future change is visible.
ALGORITHM = "brandbot-draw-v1"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Whether a draw checks out, and if not, every reason why, in plain words."""

    ok: bool
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok


def new_seed() -> str:
    """A fresh secret seed: 32 random bytes from the OS, as 64 hex digits."""
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    """The public commitment to a seed: SHA-256 of its UTF-8 text, as hex."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def entry_id(secret: str, giveaway: str | int, who: str) -> str:
    """An anonymous, stable entry id: ``e-`` + 12 hex digits of HMAC-SHA256(secret, "giveaway:who").

    ``who`` identifies the person inside the bot (e.g. "telegram:12345"); ``secret`` is
    kept by the bot and never published, so the id reveals nothing about ``who``.
    """
    mac = hmac.new(secret.encode("utf-8"), f"{giveaway}:{who}".encode(), hashlib.sha256)
    return "e-" + mac.hexdigest()[:12]


def entries_digest(entries: Sequence[str]) -> str:
    """SHA-256 of the sorted entry ids joined by newlines: a short fingerprint to publish."""
    return hashlib.sha256("\n".join(sorted(entries)).encode("utf-8")).hexdigest()


def _pick(seed: str, i: int, size: int) -> int:
    digest = hmac.new(seed.encode("utf-8"), str(i).encode("ascii"), hashlib.sha256).digest()
    return int.from_bytes(digest, "big") % size


def draw(seed: str, entries: Sequence[str], winners: int) -> list[str]:
    """Draw ``winners`` distinct entries with ``seed`` (algorithm in the module docstring).

    Deterministic; the order of ``entries`` does not matter and duplicates count once.
    Returns fewer winners when there are fewer entries.
    """
    if not seed:
        raise ValueError("a draw needs a non-empty seed")
    if winners < 0:
        raise ValueError(f"the number of winners cannot be negative (got {winners})")
    pool = sorted(set(entries))
    picked: list[str] = []
    for i in range(min(winners, len(pool))):
        picked.append(pool.pop(_pick(seed, i, len(pool))))
    return picked


def verify(
    seed: str,
    commitment: str,
    entries: Sequence[str],
    winners: int,
    claimed_winners: Sequence[str],
) -> VerifyResult:
    """Check a published draw: the seed matches the commitment, the winners match the draw."""
    reasons: list[str] = []
    actual = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    if actual != commitment.strip().lower():
        reasons.append(
            f"the seed does not match the commitment: SHA-256 of the seed is {actual}, "
            f"the commitment published at opening is {commitment}"
        )
    seen: set[str] = set()
    for entry in entries:
        if entry in seen:
            reasons.append(f"entry {entry} is listed more than once")
        seen.add(entry)
    for winner in claimed_winners:
        if winner not in seen:
            reasons.append(f"winner {winner} is not in the entry list")
    if winners < 0:
        reasons.append(f"the number of winners cannot be negative (got {winners})")
        return VerifyResult(False, tuple(reasons))
    if not seed:
        reasons.append("the seed is empty")
        return VerifyResult(False, tuple(reasons))
    expected = draw(seed, entries, winners)
    claimed = list(claimed_winners)
    if claimed != expected:
        if len(claimed) != len(expected):
            reasons.append(
                f"the draw gives {len(expected)} winner(s) for {winners} prize(s) among "
                f"{len(seen)} entries, the list has {len(claimed)}"
            )
        for n, (want, got) in enumerate(zip(expected, claimed), 1):
            if want != got:
                reasons.append(f"winner {n} should be {want} but the list says {got}")
    return VerifyResult(not reasons, tuple(reasons))


def make_export(
    *,
    giveaway: str | int,
    prize: str,
    commitment: str,
    seed: str,
    entries: Sequence[str],
    winners: Sequence[str],
    forfeited: Sequence[str] = (),
    opened: str = "",
    closed: str = "",
) -> dict[str, Any]:
    """The public record of a draw, as written to ``giveaway-<id>.json``.

    ``winners`` is every entry drawn, in draw order (``winners_count`` of them), including
    those who ``forfeited`` an unclaimed prize and were replaced by the next draw.
    Nothing in it names a person.
    """
    return {
        "format": ALGORITHM,
        "giveaway": str(giveaway),
        "prize": prize,
        "opened": opened,
        "closed": closed,
        "commitment": commitment,
        "seed": seed,
        "winners_count": len(winners),
        "entries_count": len(entries),
        "entries_sha256": entries_digest(entries),
        "entries": sorted(entries),
        "winners": list(winners),
        "forfeited": list(forfeited),
    }


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "giveaway": (str, int),
    "commitment": str,
    "seed": str,
    "winners_count": int,
    "entries": list,
    "winners": list,
}


def verify_export(data: Mapping[str, Any]) -> VerifyResult:
    """Check an exported draw (the JSON of :func:`make_export`), reading nothing else.

    Checks the fields and their types, the entry-list fingerprint, that forfeited
    entries were drawn, then :func:`verify`. This is what ``brandbot giveaway verify``
    runs; compare the commitment with the one published when the giveaway opened.
    """
    if not isinstance(data, Mapping):
        return VerifyResult(False, (f"expected a JSON object, got {type(data).__name__}",))
    reasons: list[str] = []
    for name, kind in _REQUIRED.items():
        if name not in data:
            reasons.append(f"missing field {name!r}")
        elif not isinstance(data[name], kind) or isinstance(data[name], bool):
            wanted = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            reasons.append(f"field {name!r} must be {wanted}, got {type(data[name]).__name__}")
    for name in ("entries", "winners", "forfeited"):
        items = data.get(name, [])
        if isinstance(items, list) and not all(isinstance(x, str) for x in items):
            reasons.append(f"field {name!r} must be a list of entry ids (text)")
    if reasons:
        return VerifyResult(False, tuple(reasons))
    fmt = data.get("format", ALGORITHM)
    if fmt != ALGORITHM:
        reasons.append(f"unknown draw format {fmt!r}; this version checks {ALGORITHM!r}")
        return VerifyResult(False, tuple(reasons))
    entries: list[str] = data["entries"]
    winners: list[str] = data["winners"]
    if "entries_sha256" in data and data["entries_sha256"] != entries_digest(entries):
        reasons.append(
            f"the entry list does not match its fingerprint: entries_sha256 says "
            f"{data['entries_sha256']}, the listed entries give {entries_digest(entries)}"
        )
    if "entries_count" in data and data["entries_count"] != len(entries):
        reasons.append(
            f"entries_count says {data['entries_count']} but {len(entries)} entries are listed"
        )
    for entry in data.get("forfeited", []):
        if entry not in winners:
            reasons.append(f"forfeited entry {entry} was never drawn")
    result = verify(data["seed"], data["commitment"], entries, data["winners_count"], winners)
    reasons.extend(result.reasons)
    return VerifyResult(not reasons, tuple(reasons))


__all__ = [
    "ALGORITHM",
    "VerifyResult",
    "commitment",
    "draw",
    "entries_digest",
    "entry_id",
    "make_export",
    "new_seed",
    "verify",
    "verify_export",
]
