"""How long a post is in X's eyes: the "weighted length" of twitter-text v3 (pure).

X does not count characters the way Python does. Its rules (twitter-text's v3
configuration, which the API enforces when it refuses a post as too long):

- the text is NFC-normalised first;
- code points in a few ranges (Latin, Greek, Cyrillic, Hebrew, Arabic, Indic scripts...,
  general punctuation) weigh 1; every other code point (CJK, Hangul, most symbols) weighs 2;
- an emoji weighs 2 as a whole, however many code points it is made of (skin tones,
  zero-width-joiner families, flags, keycaps);
- every URL weighs 23, long or short, because X rewrites it to a t.co link.

A post may weigh at most 280. URLs are found the way twitter-text finds them, simplified:
anything starting with http:// or https://, and bare domains on a known top-level domain
("example.com/launch"). A bare domain on a country code with no path ("example.jp") is not
a link, except .co and .tv, as in twitter-text. The TLD list below holds the generic ones
people actually use rather than all 1,500, so an unusual bare domain ("brand.museum" is in,
"brand.photography" is not) counts as its characters: X may then count a few more
characters than we do, and refuses the post itself.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
#: What X counts for every URL, whatever its length (the length of a t.co link).
URL_WEIGHT = 23

# twitter-text v3 "ranges": code points here weigh 1, all others 2.
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_HEAVY = 2
_LIGHT = 1
_EMOJI = 2

_ZWJ = 0x200D
_VS16 = 0xFE0F  # "show as emoji"
_VS15 = 0xFE0E  # "show as text"
_KEYCAP = 0x20E3
_SKIN_TONES = (0x1F3FB, 0x1F3FF)
_TAGS = (0xE0020, 0xE007F)  # subdivision flags (England, Scotland, Wales)
_REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)

# Blocks whose symbols can start an emoji. Each of these weighs 2 on its own anyway; what
# being an emoji changes is that the modifiers and joined parts after it add nothing.
_PICTOGRAPHIC_RANGES = (
    (0x1F000, 0x1FAFF),  # mahjong .. symbols & pictographs extended-A, incl. flags
    (0x2600, 0x27BF),  # miscellaneous symbols, dingbats
    (0x2300, 0x23FF),  # watch, hourglass, media controls
    (0x2B00, 0x2BFF),  # stars, squares, circles
    (0x2190, 0x21FF),  # arrows
    (0x2100, 0x214F),  # trade mark, information source
    (0x25A0, 0x25FF),  # geometric shapes
    (0x2934, 0x2935),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
)
# Plain characters that become an emoji only with VS16 or a keycap after them: © ® # * 0-9.
_EMOJI_WITH_SELECTOR = frozenset({0x00A9, 0x00AE, 0x23, 0x2A, *range(0x30, 0x3A)})

_GENERIC_TLDS = frozenset(
    """
    com org net edu gov mil int info biz name pro aero coop museum mobi asia tel travel jobs
    cat app dev page blog shop store online site website tech xyz club live news media link
    art design cloud agency studio space world today social life email digital network
    global company games fun top wiki guru ninja solutions services group team events
    community foundation health music film video photo photos gallery style fashion food
    cafe bar pizza coffee love family academy school education career careers work
    works finance money capital fund ventures business marketing consulting bio eco green
    energy game play plus one zone city center land farm garden house home win bet
    """.split()
)
_COUNTRY_TLDS = frozenset(
    """
    ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo
    br bs bt bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm
    do dz ec ee eg er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr
    gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki
    km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo
    mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph
    pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr
    ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz
    va vc ve vg vi vn vu wf ws ye yt za zm zw
    """.split()
)
# twitter-text links these country codes even without a path ("brand.co").
_SPECIAL_COUNTRY_TLDS = frozenset({"co", "tv"})

# A URL starts after a space, punctuation or the start, never glued to a word, @, $ or #.
_NOT_BEFORE = r"(?<![\w@$#＠＃./-])"
_PATH = r"[^\s<>\"]*"
_SCHEME_URL = re.compile(
    _NOT_BEFORE + r"https?://[^\s/?#<>\"]+(?:[/?#]" + _PATH + r")?", re.IGNORECASE
)
_BARE_URL = re.compile(
    _NOT_BEFORE
    + r"(?P<domain>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?P<tld>[a-z]{2,63}))(?![\w-])"
    + r"(?::\d{1,5})?(?P<path>[/?#]"
    + _PATH
    + r")?",
    re.IGNORECASE | re.ASCII,
)
_TRAILING_PUNCTUATION = ".,;:!?'\"]}*"


def weighted_length(text: str) -> int:
    """The length X counts for ``text`` (what must stay within 280)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for start, end in _url_spans(text):
        total += _plain_weight(text[position:start]) + URL_WEIGHT
        position = end
    return total + _plain_weight(text[position:])


def fits(text: str) -> bool:
    """Whether X accepts ``text`` as one post."""
    return weighted_length(text) <= MAX_WEIGHTED_LENGTH


def links(text: str) -> tuple[str, ...]:
    """The URLs X would find (and shorten to t.co) in ``text``, in order."""
    text = unicodedata.normalize("NFC", text)
    return tuple(text[start:end] for start, end in _url_spans(text))


def contains_link(text: str) -> bool:
    """Whether ``text`` has a URL: X bills such posts at a higher rate."""
    return bool(links(text))


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = [_trimmed(text, m.start(), m.end()) for m in _SCHEME_URL.finditer(text)]
    # Blank out the scheme URLs so that their host names are not found a second time.
    masked = list(text)
    for start, end in spans:
        masked[start:end] = " " * (end - start)
    for match in _BARE_URL.finditer("".join(masked)):
        if _is_bare_link(match):
            spans.append(_trimmed(text, match.start(), match.end()))
    return sorted(spans)


def _is_bare_link(match: re.Match[str]) -> bool:
    tld = match["tld"].lower()
    if tld in _GENERIC_TLDS:
        return True
    if tld not in _COUNTRY_TLDS:
        return False
    labels = match["domain"].count(".") + 1
    # "example.jp" alone is not a link; "example.jp/x", "www.example.jp" and "brand.co" are.
    return bool(match["path"]) or labels > 2 or tld in _SPECIAL_COUNTRY_TLDS


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop the sentence punctuation that follows a URL ("see example.com/a.")."""
    while end > start:
        last = text[end - 1]
        if last in _TRAILING_PUNCTUATION:
            end -= 1
        elif last == ")" and text.count("(", start, end) < text.count(")", start, end):
            end -= 1  # keep the balanced parentheses of wiki links, drop an enclosing ")"
        else:
            break
    return start, end


def _plain_weight(text: str) -> int:
    """Weight of text that holds no URL: per code point, with emoji counted as one."""
    total = 0
    i = 0
    while i < len(text):
        end = _emoji_end(text, i)
        if end > i:
            total += _EMOJI
            i = end
        else:
            total += _code_point_weight(ord(text[i]))
            i += 1
    return total


def _code_point_weight(cp: int) -> int:
    return _LIGHT if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else _HEAVY


def _emoji_end(text: str, i: int) -> int:
    """End of the emoji sequence starting at ``i``, or ``i`` when none starts there."""
    cp = ord(text[i])
    n = len(text)
    if _within(cp, _REGIONAL_INDICATORS):
        # A flag is two regional indicators; a lone one still shows as a letter emoji.
        if i + 1 < n and _within(ord(text[i + 1]), _REGIONAL_INDICATORS):
            return i + 2
        return i + 1
    if cp in _EMOJI_WITH_SELECTOR:
        j = i + 1
        if j < n and ord(text[j]) == _VS16:
            j += 1
        if j < n and ord(text[j]) == _KEYCAP:
            j += 1
        return j if j > i + 1 else i
    if not _is_pictographic(cp):
        return i
    end = _modifiers_end(text, i + 1)
    # Zero-width-joiner sequences (families, professions) are one emoji.
    while end + 1 < n and ord(text[end]) == _ZWJ and _is_pictographic(ord(text[end + 1])):
        end = _modifiers_end(text, end + 2)
    return end


def _modifiers_end(text: str, j: int) -> int:
    while j < len(text):
        cp = ord(text[j])
        if cp in (_VS16, _VS15, _KEYCAP) or _within(cp, _SKIN_TONES) or _within(cp, _TAGS):
            j += 1
        else:
            break
    return j


def _is_pictographic(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _PICTOGRAPHIC_RANGES)


def _within(cp: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= cp <= bounds[1]


#: What X bills per post, in dollars (the defaults of the x network's settings).
DEFAULT_COST_PER_POST = 0.015
DEFAULT_COST_PER_LINK_POST = 0.20


def problem(text: str) -> str | None:
    """Why X would refuse ``text`` as a post, or None. Shared by the x network and its
    in-memory stand-in (simulate, plugin tests), so both refuse the same posts."""
    if not text.strip():
        return "X does not accept an empty post"
    length = weighted_length(text)
    if length > MAX_WEIGHTED_LENGTH:
        return (
            f"too long for X: {length} weighted characters, the limit is {MAX_WEIGHTED_LENGTH} "
            "(every URL counts 23, CJK characters and emoji count 2); brandbot does not "
            "split posts on X"
        )
    return None


def cost(text: str, per_post: float = DEFAULT_COST_PER_POST,
         per_link_post: float = DEFAULT_COST_PER_LINK_POST) -> float:
    """What X bills for posting ``text``: a post with a link costs more."""
    return per_link_post if contains_link(text) else per_post
