"""Which language a message is in: py3langid, limited to the configured languages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import py3langid
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from brandbot.core.textnorm import normalize, words

#: Below this confidence the message's language is "" (the person's known one is used).
MIN_CONFIDENCE = 0.9


class LanguageGuesser:
    """py3langid's model with only ``languages`` as candidates; short texts stay unknown."""

    def __init__(self, languages: Sequence[str]) -> None:
        self.languages = tuple(languages)
        model = Path(py3langid.__file__).parent / MODEL_FILE
        self._identifier = LanguageIdentifier.from_modelpath(str(model), norm_probs=True)
        self._identifier.set_languages(list(self.languages))

    def __call__(self, text: str) -> str:
        if len(self.languages) == 1:
            return self.languages[0]
        if len(words(normalize(text))) < 2:  # "hi", "ok", "lol": any language's
            return ""
        code, confidence = self._identifier.classify(text)
        return str(code) if confidence >= MIN_CONFIDENCE else ""


__all__ = ["MIN_CONFIDENCE", "LanguageGuesser"]
