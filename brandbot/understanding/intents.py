"""Intents by example: a message belongs to the intent whose examples it is most like.

The sentence embeddings come from wordllama (numpy only; its 256-dimension weights and
tokenizer ship inside the package, nothing is downloaded). Each intent's examples are
embedded once, when the reader is built (start and reload); a message costs one
embedding and one matrix-vector product. A message's score for an intent is its
cosine similarity to the closest example of that intent; the best intent wins if its
score reaches that intent's threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import wordllama
from wordllama import WordLlama

from brandbot.core.intents import IntentSet
from brandbot.core.reading import IntentHit


def packaged_vocabulary() -> set[str]:
    """Whole words of the packaged tokenizer's vocabulary (about 12,000, mostly English):
    what ``brandbot check`` tries a rule's keywords on to show what their word forms match."""
    folder = Path(wordllama.__file__).parent / "tokenizers"
    found: set[str] = set()
    for path in folder.glob("*.json"):
        vocab = json.loads(path.read_text(encoding="utf-8")).get("model", {}).get("vocab", {})
        found.update(token[1:].lower() for token in vocab if token[:1] == "\u2581" and token[1:].isalpha())
    return found


def load_model() -> Any:
    """The packaged wordllama model (version 0.4.0.post1 finds its tokenizer only this way)."""
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


class Embedder:
    """Unit-length sentence vectors from wordllama."""

    def __init__(self, model: Any | None = None) -> None:
        self._model = model if model is not None else load_model()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self._model.embed(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def one(self, text: str) -> np.ndarray:
        """One text's unit vector (the per-message path: no batch bookkeeping)."""
        vector = np.asarray(self._model.embed([text])[0], dtype=np.float32)
        norm = float(np.sqrt(vector @ vector))
        return vector / norm if norm else vector


class IntentModel:
    """The examples of every intent, embedded, and the classification of a message."""

    def __init__(self, intents: IntentSet, embed: Embedder) -> None:
        self.intents = intents
        self._embed = embed
        phrases = [phrase for intent in intents.intents for _, phrase in intent.examples]
        self.owners = np.array([i for i, intent in enumerate(intents.intents) for _ in intent.examples])
        # Each intent's examples are contiguous rows: a per-intent maximum is one reduceat.
        counts = [len(intent.examples) for intent in intents.intents]
        self._starts = np.cumsum([0, *counts[:-1]]) if counts else np.zeros(0, dtype=np.int64)
        self.matrix = embed(phrases) if phrases else np.zeros((0, 1), dtype=np.float32)
        self.phrases = tuple(phrases)
        self._thresholds = [i.threshold for i in intents.intents]
        self._names = intents.names

    def scores(self, text: str) -> np.ndarray:
        """Per intent, the similarity of ``text`` to its closest example."""
        if not len(self.phrases):
            return np.full(len(self.intents.intents), -1.0, dtype=np.float32)
        similarity = self.matrix @ self._embed.one(text)
        return np.maximum.reduceat(similarity, self._starts)

    def classify(self, text: str) -> IntentHit | None:
        scores = self.scores(text).tolist()  # Python floats: cheaper to read one by one than numpy's
        if not scores:
            return None
        i = max(range(len(scores)), key=scores.__getitem__)
        if scores[i] < self._thresholds[i]:
            return None
        names = self._names
        return IntentHit(names[i], scores[i], tuple(zip(names, scores, strict=True)))

    def overlaps(self, close: float = 0.75) -> list[str]:
        """Examples nearly the same as another intent's example (similarity ``close`` or
        more) and closer to it than to any of their own intent's: the intents overlap there."""
        if len(self.phrases) < 2:
            return []
        similarity = self.matrix @ self.matrix.T
        np.fill_diagonal(similarity, -1.0)
        names = self.intents.names
        problems: list[str] = []
        for row, owner in enumerate(self.owners):
            mine = self.owners == owner
            own = float(similarity[row][mine].max()) if mine.sum() > 1 else -1.0
            others = np.where(mine, -1.0, similarity[row])
            other = int(np.argmax(others))
            if others[other] >= close and others[other] > own and owner < self.owners[other]:
                problems.append(f"intent {names[owner]!r} example {self.phrases[row]!r} is as close to intent "
                                f"{names[self.owners[other]]!r} ({self.phrases[other]!r}, similarity "
                                f"{others[other]:.2f}); reword or move one of them")
        return problems


__all__ = ["Embedder", "IntentModel", "load_model"]
