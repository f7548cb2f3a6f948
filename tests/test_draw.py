"""The draw: deterministic, uniform, re-implementable from its description, verifiable."""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from brandbot.core.draw import (
    ALGORITHM,
    commitment,
    draw,
    entries_digest,
    entry_id,
    make_export,
    new_seed,
    verify,
    verify_export,
)

seeds = st.text(min_size=1, max_size=80)
entry_lists = st.lists(st.text(min_size=1, max_size=20), max_size=40)


def reference_draw(seed: str, entries: list[str], n: int) -> list[str]:
    """The algorithm as the docstring states it, written independently of draw()."""
    pool = sorted(set(entries), key=lambda e: e.encode("utf-8"))
    out = []
    for i in range(min(n, len(pool))):
        d = hmac.new(seed.encode("utf-8"), str(i).encode("ascii"), hashlib.sha256).digest()
        out.append(pool.pop(int.from_bytes(d, "big") % len(pool)))
    return out


# -- properties ------------------------------------------------------------------------


@given(seeds, entry_lists, st.integers(0, 50))
def test_draw_is_deterministic_distinct_and_never_more_than_available(seed, entries, n) -> None:
    first = draw(seed, entries, n)
    assert first == draw(seed, list(entries), n)
    assert len(first) == len(set(first)) == min(n, len(set(entries)))
    assert set(first) <= set(entries)


@given(seeds, entry_lists, st.integers(0, 20), st.randoms(use_true_random=False))
def test_order_of_entries_does_not_matter(seed, entries, n, rnd) -> None:
    shuffled = list(entries) + list(entries[:3])  # duplicates count once
    rnd.shuffle(shuffled)
    assert draw(seed, shuffled, n) == draw(seed, entries, n)


@given(seeds, entry_lists, st.integers(0, 20), st.integers(0, 20))
def test_drawing_more_extends_the_list(seed, entries, n, extra) -> None:
    assert draw(seed, entries, n + extra)[:n] == draw(seed, entries, n)


@given(seeds, entry_lists, st.integers(0, 20))
def test_matches_the_documented_algorithm(seed, entries, n) -> None:
    assert draw(seed, entries, n) == reference_draw(seed, entries, n)


@given(
    seeds,
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30, unique=True),
    st.integers(1, 5),
)
def test_an_honest_draw_verifies(seed, entries, n) -> None:
    result = verify(seed, commitment(seed), entries, n, draw(seed, entries, n))
    assert result.ok and result.reasons == ()


@given(seeds, seeds)
def test_commitment_is_sha256_of_the_seed(a, b) -> None:
    assert commitment(a) == hashlib.sha256(a.encode()).hexdigest()
    assert (commitment(a) == commitment(b)) == (a == b)


# -- pinned vectors: the algorithm must never change silently -----------------------------


def test_known_answer() -> None:
    entries = [f"e-{i:02d}" for i in range(10)]
    assert draw("brandbot", entries, 3) == ["e-00", "e-04", "e-08"]
    assert draw("brandbot", entries, 5) == reference_draw("brandbot", entries, 5)
    assert (
        commitment("brandbot") == "488c7d7383a5a58d44f5a708b80b009e9990abddb103a726c8d2cf5e60ffcbb9"
    )


def test_new_seed_is_32_random_bytes_in_hex() -> None:
    a, b = new_seed(), new_seed()
    assert len(a) == 64 and int(a, 16) >= 0 and a != b


# -- fairness --------------------------------------------------------------------------


def test_every_entry_wins_sometimes_and_none_dominates() -> None:
    """Over a fixed set of seeds (so never flaky), wins spread evenly across entries."""
    entries = [f"e-{i}" for i in range(10)]
    firsts = Counter(draw(f"seed-{s}", entries, 1)[0] for s in range(1000))
    assert set(firsts) == set(entries)
    assert all(60 <= count <= 140 for count in firsts.values()), firsts  # expected 100 each
    seconds = Counter(draw(f"seed-{s}", entries, 2)[1] for s in range(1000))
    assert set(seconds) == set(entries)


# -- verification failures say why ----------------------------------------------------------


def test_verify_explains_every_problem() -> None:
    seed = "s3cret"
    entries = [f"e-{i}" for i in range(8)]
    winners = draw(seed, entries, 2)
    wrong_seed = verify("other", commitment(seed), entries, 2, draw("other", entries, 2))
    assert not wrong_seed.ok and "does not match the commitment" in wrong_seed.reasons[0]
    changed = verify(
        seed,
        commitment(seed),
        entries,
        2,
        [winners[0], next(e for e in entries if e not in winners)],
    )
    assert not changed.ok and any("winner 2 should be" in r for r in changed.reasons)
    missing = verify(seed, commitment(seed), [e for e in entries if e != winners[0]], 2, winners)
    assert not missing.ok and any("not in the entry list" in r for r in missing.reasons)
    too_few = verify(seed, commitment(seed), entries, 3, winners)
    assert not too_few.ok and any("3 prize(s)" in r for r in too_few.reasons)
    duplicated = verify(seed, commitment(seed), entries + entries[:1], 2, winners)
    assert not duplicated.ok and any("more than once" in r for r in duplicated.reasons)


def test_entry_ids_are_stable_anonymous_and_per_giveaway() -> None:
    a = entry_id("secret", 7, "telegram:42")
    assert a == entry_id("secret", 7, "telegram:42")
    assert a.startswith("e-") and len(a) == 14
    assert a != entry_id("secret", 8, "telegram:42")  # not linkable across giveaways
    assert a != entry_id("other", 7, "telegram:42")  # not computable without the secret
    assert a[2:] != hashlib.sha256(b"7:telegram:42").hexdigest()[:12]


# -- exports --------------------------------------------------------------------------------


def _export() -> dict:
    seed = new_seed()
    entries = [entry_id("k", 1, f"memory:{i}") for i in range(12)]
    return make_export(
        giveaway=1,
        prize="Signed copy",
        commitment=commitment(seed),
        seed=seed,
        entries=entries,
        winners=draw(seed, entries, 3),
        forfeited=(),
    )


def test_an_export_verifies_and_any_tampering_fails() -> None:
    data = _export()
    assert data["format"] == ALGORITHM and data["entries_sha256"] == entries_digest(data["entries"])
    assert verify_export(data).ok

    removed = copy.deepcopy(data)
    removed["entries"].remove(data["winners"][1])
    assert not verify_export(removed).ok

    quietly_removed = copy.deepcopy(data)  # even a non-winner, refingerprinted or not
    quietly_removed["entries"].remove(next(e for e in data["entries"] if e not in data["winners"]))
    result = verify_export(quietly_removed)
    assert not result.ok and any("fingerprint" in r for r in result.reasons)

    swapped = copy.deepcopy(data)
    swapped["winners"][0] = next(e for e in data["entries"] if e not in data["winners"])
    assert not verify_export(swapped).ok

    reseeded = copy.deepcopy(data)
    reseeded["seed"] = new_seed()
    assert any("commitment" in r for r in verify_export(reseeded).reasons)


def test_a_redrawn_export_verifies() -> None:
    seed = "abc"
    entries = [f"e-{i}" for i in range(5)]
    drawn = draw(seed, entries, 3)
    data = make_export(
        giveaway="2",
        prize="Mug",
        commitment=commitment(seed),
        seed=seed,
        entries=entries,
        winners=drawn,
        forfeited=drawn[:1],
    )
    assert verify_export(data).ok
    data["forfeited"] = ["e-nobody"]
    assert any("never drawn" in r for r in verify_export(data).reasons)


def test_malformed_exports_are_explained() -> None:
    assert verify_export([]).reasons == ("expected a JSON object, got list",)  # type: ignore[arg-type]
    result = verify_export({"seed": 5, "entries": ["a", 3]})
    assert not result.ok
    text = " ".join(result.reasons)
    assert "missing field 'commitment'" in text and "field 'seed' must be str" in text
    assert "list of entry ids" in text
    bad_format = {**_export(), "format": "other-v9"}
    assert "unknown draw format" in verify_export(bad_format).reasons[0]
