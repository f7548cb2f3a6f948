"""Rule regexes: compiled for the text form they search, and the literals they require.

A regex is searched in normalized text, so its non-ASCII characters are folded the same
way. ``required_literals`` reads the parsed pattern to find text that every match must
contain, which lets the index skip a regex whose literals are absent.
"""

from __future__ import annotations

import re
from typing import Any

from brandbot.core.textnorm import normalize

try:  # the regex parser is private; without it every regex is simply always tested
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python versions
    _sre = _sre_parse = None


def _fold_char(ch: str) -> str:
    folded = normalize(ch) if not ch.isspace() else " "
    return re.escape(folded) if folded else ""


def _fold_pattern(pattern: str) -> str:
    """Fold the non-ASCII characters of a pattern like the text it will search.

    ASCII is left alone (IGNORECASE handles its case, and escapes like ``\\D`` must keep
    theirs); "é" becomes "e", "Ä" becomes "a", so the pattern meets the normalized text.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isascii():
            out.append(_fold_char(pattern[i + 1]))  # "\é": the escape is not needed any more
            i += 2
            continue
        out.append(ch if ch.isascii() else _fold_char(ch))
        i += 1
    return "".join(out)


def compile_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """Compile a rule regex for the text form it searches; errors say what and where."""
    source = pattern if case_sensitive else _fold_pattern(pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        return re.compile(source, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        pointer = (
            f"\n    {pattern}\n    {' ' * exc.pos}^"
            if exc.pos is not None and source == pattern
            else ""
        )
        raise ValueError(f"invalid regex {pattern!r}: {exc.msg}{where}{pointer}") from None


def required_literal(regex: re.Pattern[str], folded: bool) -> str | None:
    """The longest run of characters every match of ``regex`` must contain, if any.

    For folded (case-insensitive) patterns the literal is lower-cased ASCII only: the
    normalized text contains no character that IGNORECASE equates with an ASCII letter
    other than that letter, so ``literal in text`` is then a correct pre-test.
    """
    factors = _required_factors(regex, folded)
    if factors is None:
        return None
    best = max((f[0] for f in factors if len(f) == 1), key=len, default="")
    return best or None


def required_literals(regex: re.Pattern[str], folded: bool) -> tuple[str, ...] | None:
    """Literals of which every match of ``regex`` must contain at least one, if any.

    Like :func:`required_literal`, but an alternation counts too: every match of
    ``(?:order|invoice)\\s*\\d+`` contains "order" or "invoice". Of all such sets the one
    whose shortest literal is longest is chosen (then the smaller set): long literals
    rarely occur by chance, so the rule is rarely verified for nothing.
    """
    factors = _required_factors(regex, folded)
    if not factors:
        return None
    return max(factors, key=_selectivity)


def _selectivity(factor: tuple[str, ...]) -> tuple[int, int]:
    """How rarely a text contains one of ``factor`` by chance: its shortest literal, the
    longer the better, then how few literals there are."""
    return min(len(literal) for literal in factor), -len(factor)


def _required_factors(regex: re.Pattern[str], folded: bool) -> list[tuple[str, ...]] | None:
    """Every set of alternatives that each match must contain one of (lower-cased if folded)."""
    if _sre_parse is None:
        return None
    try:
        parsed = _sre_parse.parse(regex.pattern, regex.flags)
    except re.error:  # pragma: no cover - the pattern compiled, so it parses
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    if ignore_case and not folded:
        return None  # "(?i)" in a case-sensitive rule: no exact literal to look for
    factors = _factors(list(parsed), ascii_only=folded)
    if folded:
        factors = [tuple(dict.fromkeys(x.lower() for x in f)) for f in factors]
    return factors


def _factors(items: list[tuple[Any, Any]], ascii_only: bool) -> list[tuple[str, ...]]:
    """The factors of a parsed sequence: runs of plain characters (one alternative each)
    outside optional parts and flag groups, and for alternations whose every branch has a
    factor, the union of one factor per branch."""
    found: list[tuple[str, ...]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            found.append(("".join(current),))
            current.clear()

    for op, av in items:
        if op is _sre.LITERAL:
            ch = chr(av)
            if ascii_only and not ch.isascii():
                flush()
            else:
                current.append(ch)
            continue
        flush()
        if op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if not add_flags and not del_flags:
                found += _factors(list(sub), ascii_only)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
            low, _high, sub = av
            if low >= 1:
                found += _factors(list(sub), ascii_only)
        elif op is getattr(_sre, "ATOMIC_GROUP", None):
            found += _factors(list(av), ascii_only)
        elif op is _sre.BRANCH:
            union = _branch_factor(av[1], ascii_only)
            if union:
                found.append(union)
        # anything else (classes, anchors, lookarounds) ends a run
    flush()
    return found


def _branch_factor(branches: list[Any], ascii_only: bool) -> tuple[str, ...] | None:
    """One alternative set covering every branch of an alternation, if each branch has one."""
    union: list[str] = []
    for branch in branches:
        factors = _factors(list(branch), ascii_only)
        if not factors:
            return None  # this branch can match without any known literal
        best: tuple[str, ...] = max(factors, key=_selectivity)
        union += best
    return tuple(dict.fromkeys(union))


__all__ = ["compile_regex", "required_literal", "required_literals"]
