"""The reader the runtime gives the rules and plugins: language, sentiment and intents."""

from __future__ import annotations

from pathlib import Path

from brandbot.core.config import UnderstandingConfig
from brandbot.core.intents import IntentSet, load_intents
from brandbot.core.reading import IntentHit
from brandbot.understanding.intents import Embedder, IntentModel
from brandbot.understanding.language import LanguageGuesser
from brandbot.understanding.sentiment import SentimentScorer


class TextReader:
    """Implements :class:`brandbot.core.reading.Reader`; each part is loaded only if used."""

    def __init__(self, config: UnderstandingConfig, intents: IntentSet | None = None,
                 embedder: Embedder | None = None) -> None:
        self.config = config
        languages = tuple(config.languages) or ("en",)
        self._language = LanguageGuesser(languages)
        self._sentiment = SentimentScorer(languages)
        self.intents = intents
        self.model = IntentModel(intents, embedder or Embedder()) if intents is not None and intents.intents else None

    def language(self, text: str) -> str:
        return self._language(text)

    def sentiment(self, text: str, language: str) -> float:
        return self._sentiment(text, language)

    def mood(self, score: float) -> str:
        if score <= self.config.negative_below:
            return "negative"
        if score >= self.config.positive_above:
            return "positive"
        return "neutral"

    def intent(self, text: str, language: str) -> IntentHit | None:
        return self.model.classify(text) if self.model is not None else None


def build_reader(config: UnderstandingConfig, base: Path, embedder: Embedder | None = None) -> TextReader:
    """The reader for a configuration whose files are relative to ``base`` (the config's folder)."""
    intents = load_intents((base / config.intents).resolve()) if config.intents else None
    return TextReader(config, intents, embedder)


__all__ = ["TextReader", "build_reader"]
