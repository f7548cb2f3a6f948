"""Rule regexes: compiled for the text form they search, and the literals they require.

Rule regexes run on RE2 (``google-re2``), whose matching time grows linearly with the
text: a pattern like ``(a+)+$`` cannot freeze the process on a crafted message, as it
can with Python's backtracking ``re``. RE2 cannot run backreferences, lookahead and
lookbehind, atomic groups, possessive quantifiers or conditional groups; such a pattern
is refused when the rules are loaded, naming what it used (docs/rules.md lists them).

A regex is searched in normalized text, so its non-ASCII characters are folded the same
way. ``required_literals`` reads the parsed pattern to find text that every match must
contain, which lets the index skip a regex whose literals are absent.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import re2

from brandbot.core.textnorm import normalize

try:  # the regex parser is private; without it every regex is simply always tested
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python versions
    _sre = _sre_parse = None

#: Where the community manager reads which regex syntax rules support.
_DOCS = 'see "Regular expressions" in docs/rules.md'


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


class RuleRegex:
    """A compiled rule regex: RE2 does the matching, in time linear in the text.

    ``pattern`` is the source that was compiled (folded unless case-sensitive) and
    ``flags`` is ``re.IGNORECASE`` or 0, as for an ``re.Pattern``: the literal prefilter
    reads them. ``search(text)`` returns a match object or None.
    """

    __slots__ = ("flags", "pattern", "search", "written")

    def __init__(self, written: str, pattern: str, flags: int, compiled: Any) -> None:
        self.written = written
        self.pattern = pattern
        self.flags = flags
        self.search = compiled.search

    def __repr__(self) -> str:
        return f"RuleRegex({self.written!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RuleRegex)
            and (self.pattern, self.flags) == (other.pattern, other.flags)
        )

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))


def compile_regex(pattern: str, case_sensitive: bool) -> RuleRegex:
    """Compile a rule regex for the text form it searches; errors say what and where.

    A pattern Python's ``re`` cannot read is reported with Python's message and the
    position; one that only RE2 cannot run names the construct it used.
    """
    if not pattern:
        raise ValueError("empty regex: it would match every message; remove regex: or write a pattern")
    source = pattern if case_sensitive else _fold_pattern(pattern)
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern on stderr
    options.case_sensitive = case_sensitive
    try:
        compiled = re2.compile(source, options)
    except re2.error as exc:
        raise ValueError(_refusal(pattern, source, case_sensitive, exc)) from None
    return RuleRegex(pattern, source, 0 if case_sensitive else re.IGNORECASE, compiled)


def _refusal(pattern: str, source: str, case_sensitive: bool, exc: re2.error) -> str:
    """Why RE2 refused ``source``: Python's syntax error, else the unsupported construct."""
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = _sre_parse.parse(source, flags) if _sre_parse is not None else None
            re.compile(source, flags)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        pointer = (
            f"\n    {pattern}\n    {' ' * error.pos}^"
            if error.pos is not None and source == pattern
            else ""
        )
        return f"invalid regex {pattern!r}: {error.msg}{where}{pointer}"
    construct = _unsupported(list(parsed)) if parsed is not None else None
    detail = exc.args[0] if exc.args else exc
    reason = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    construct = construct or _RE2_HINTS.get(reason.split(": ", 1)[-1])
    if construct is None:
        return f"regex {pattern!r} cannot run on RE2, the linear-time engine of rule regexes: {reason} ({_DOCS})"
    return (
        f"regex {pattern!r} uses {construct}, which rule regexes do not support "
        f"(they run on RE2, a linear-time engine; {_DOCS})"
    )


#: RE2's complaint about a piece of Python syntax -> what to write instead.
_RE2_HINTS = {
    "\\Z": "\\Z (write \\z for the end of the text)",
    "(?#": "a (?#...) comment",
    "(?x": "the verbose flag (?x)",
    "(?a": "the ASCII flag (?a) (RE2's \\w, \\d, \\s and \\b are ASCII already)",
    "(?u": "the (?u) flag",
    "(?L": "the (?L) flag",
}


def _unsupported(items: list[tuple[Any, Any]]) -> str | None:
    """The first construct of a parsed pattern that RE2 cannot run, described; else None."""
    for op, av in items:
        if op is _sre.GROUPREF:
            return "a backreference (\\1 or (?P=name))"
        if op is _sre.GROUPREF_EXISTS:
            return "a conditional group (?(1)...|...)"
        if op in (_sre.ASSERT, _sre.ASSERT_NOT):
            direction, sub = av
            if direction < 0:
                return "a lookbehind ((?<=...) or (?<!...))"
            return "a lookahead ((?=...) or (?!...))"
        if op is getattr(_sre, "ATOMIC_GROUP", None):
            return "an atomic group (?>...)"
        if op is getattr(_sre, "POSSESSIVE_REPEAT", None):
            return "a possessive quantifier (*+, ++, ?+)"
        nested: list[Any] = []
        if op is _sre.SUBPATTERN:
            nested = [av[3]]
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            nested = [av[2]]
        elif op is _sre.BRANCH:
            nested = list(av[1])
        for sub in nested:
            found = _unsupported(list(sub))
            if found is not None:
                return found
    return None


def required_literal(regex: RuleRegex, folded: bool) -> str | None:
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


def required_literals(regex: RuleRegex, folded: bool) -> tuple[str, ...] | None:
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


def _required_factors(regex: RuleRegex, folded: bool) -> list[tuple[str, ...]] | None:
    """Every set of alternatives that each match must contain one of (lower-cased if folded).

    The pattern is read with Python's parser, so only when Python reads it the way RE2
    does: a pattern Python refuses (RE2-only syntax like ``\\pL``) or warns about (``[[:``,
    a POSIX class to RE2 and a nested set to Python) is simply always tested.
    """
    if _sre_parse is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parsed = _sre_parse.parse(regex.pattern, regex.flags)
    except (re.error, Warning):
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


__all__ = ["RuleRegex", "compile_regex", "required_literal", "required_literals"]
