"""The reader the runtime gives the rules and plugins: language, sentiment and intents."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from brandbot.core.config import UnderstandingConfig
from brandbot.core.intents import IntentSet, load_intents
from brandbot.core.reading import IntentHit

if TYPE_CHECKING:  # imported when first needed: numpy, wordllama, VADER and py3langid take a second
    from brandbot.understanding.intents import IntentModel
    from brandbot.understanding.language import LanguageGuesser
    from brandbot.understanding.sentiment import SentimentScorer


class TextReader:
    """Implements :class:`brandbot.core.reading.Reader`.

    The intents' examples are embedded when the reader is built (start, reload); the
    language model and the sentiment lexicons load on first use, so a bot whose rules
    never ask for them does not pay for them at start.
    """

    def __init__(self, config: UnderstandingConfig, intents: IntentSet | None = None,
                 embedder: Any = None) -> None:
        self.config = config
        self._languages = tuple(config.languages) or ("en",)
        self._language: LanguageGuesser | None = None  # loaded on first use: most bots never ask
        self._sentiment: SentimentScorer | None = None
        self.intents = intents
        self.model: IntentModel | None = None
        if intents is not None and intents.intents:
            from brandbot.understanding.intents import Embedder, IntentModel

            self.model = IntentModel(intents, embedder or Embedder())

    def language(self, text: str) -> str:
        if self._language is None:
            from brandbot.understanding.language import LanguageGuesser

            self._language = LanguageGuesser(self._languages)
        return self._language(text)

    def sentiment(self, text: str, language: str) -> float:
        if self._sentiment is None:
            from brandbot.understanding.sentiment import SentimentScorer

            self._sentiment = SentimentScorer(self._languages)
        return self._sentiment(text, language)

    def mood(self, score: float) -> str:
        if score <= self.config.negative_below:
            return "negative"
        if score >= self.config.positive_above:
            return "positive"
        return "neutral"

    def intent(self, text: str, language: str) -> IntentHit | None:
        return self.model.classify(text) if self.model is not None else None


def build_reader(config: UnderstandingConfig, base: Path, embedder: Any = None) -> TextReader:
    """The reader for a configuration whose files are relative to ``base`` (the config's folder)."""
    intents = load_intents((base / config.intents).resolve()) if config.intents else None
    return TextReader(config, intents, embedder)


__all__ = ["TextReader", "build_reader"]
