"""The last-message memory keeps little per person: settled readings, no lookups that renew."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from brandbot.core.config import UnderstandingConfig
from brandbot.core.lru import Lru
from brandbot.core.reading import Reading
from brandbot.core.rules.state import UNSETTLED, PersonMemory
from brandbot.understanding import build_reader

READER = build_reader(UnderstandingConfig(languages=["en", "de", "es", "fr"]), Path("."))


class KnownLanguage:
    """What the router passes: a lookup of the person's language, called only if needed."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.language


def test_a_settled_reading_answers_the_same_without_its_lookup() -> None:
    for text in ("This is ridiculous, still no book after 3 weeks!", "ok", "Mein Buch ist beschädigt angekommen"):
        known = KnownLanguage("es")
        whole, settled = Reading(text, READER, known), Reading(text, READER, KnownLanguage("es"))
        gone = weakref.ref(known)
        settled.settle()
        del known
        gc.collect()
        assert gone() is not None  # ``whole`` still holds its lookup
        assert (settled.language, settled.mood, settled.intent) == (whole.language, whole.mood, whole.intent)
        assert settled.known_language == "es"


def test_settling_drops_the_lookup_and_the_intent_found() -> None:
    known = KnownLanguage("de")
    reading = Reading("ok", READER, known)
    gone = weakref.ref(known)
    del known
    reading.settle()
    gc.collect()
    assert gone() is None
    assert reading.language == "de"  # too short to tell: the person's language, looked up when settled


def test_the_memory_settles_readings_once_newer_ones_came_in() -> None:
    memory = PersonMemory()
    lookups = [KnownLanguage("fr") for _ in range(UNSETTLED + 1)]
    for follower_id, known in enumerate(lookups):
        memory.remember(follower_id, Reading("merci", READER, known))
    assert [k.calls for k in lookups[:2]] == [1, 0]  # only the oldest was settled (its lookup asked once)
    refs = [weakref.ref(k) for k in lookups]
    del lookups, known
    gc.collect()
    assert refs[0]() is None and all(r() is not None for r in refs[1:])
    assert memory.last_mood(0) == memory.last_mood(1)


def test_looking_a_person_up_does_not_keep_them() -> None:
    memory = PersonMemory(size=2)
    memory.remember(1, Reading("I love it", READER))
    memory.note_language(1, "en")
    memory.remember(2, Reading("great", READER))
    memory.note_language(2, "en")
    assert (memory.last_mood(1), memory.language(1)) == ("positive", "en")  # asked about, not seen
    memory.remember(3, Reading("awful", READER))
    memory.note_language(3, "en")
    assert (memory.last_mood(1), memory.language(1)) == (None, "")  # 1 wrote longest ago: forgotten
    assert memory.last_mood(2) == "positive"


def test_peek_leaves_the_order_and_get_renews() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.peek("a") == 1 and lru.peek("z", None) is None
    lru.put("c", 3)  # "a" goes: peeking did not renew it
    assert lru.peek("a", None) is None
    assert lru.get("b") == 2  # renewed
    lru.put("d", 4)
    assert (lru.peek("b"), lru.peek("c", None)) == (2, None)
