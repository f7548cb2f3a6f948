"""How a message feels: VADER for English, a small word list for German, Spanish and French.

VADER (vaderSentiment) is the well-kept lexicon for English social-media text: it knows
slang, emoji, capitals, "!!!" and negation. For German, Spanish and French no lexicon of
that quality ships as a small package, so a short list of clearly negative and positive
words per language (stemmed, so "beschädigt" and "beschädigte" count alike) is used:
it catches plain complaints ("kaputt", "decepcionada", "inadmissible") and nothing subtle.
Other languages get English VADER, which still reads emoji and "!!!".
"""

from __future__ import annotations

import math

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from brandbot.core.textnorm import normalize, words
from brandbot.core.wordforms import WordForms

_NEGATIVE = {
    "de": "kaputt beschädigt beschadigt zerrissen enttäuscht enttauscht ärgerlich argerlich frechheit schlecht "
          "schrecklich katastrophe unmöglich unmoglich wütend wutend sauer falsch fehlt fehlen verloren nie "
          "betrug unverschämt unverschamt reklamation beschwerde mangelhaft zerkratzt nass ruiniert",
    "es": "dañado danado roto rota decepcionado decepcionada vergüenza verguenza terrible horrible pésimo pesimo "
          "mal enfadado enfadada harto harta nunca estafa perdido perdida reembolso queja falta faltan "
          "equivocado inaceptable molesto molesta",
    "fr": "abîmé abime abîmée cassé casse déçu decu déçue decue inadmissible honteux honte nul nulle horrible "
          "terrible arnaque jamais perdu perdue remboursement plainte manque manquent inacceptable énervé "
          "enerve furieux furieuse mauvais mauvaise",
}
_POSITIVE = {
    "de": "danke super toll wunderbar liebe großartig grossartig schön schon gefällt gefallt genial perfekt",
    "es": "gracias genial encanta encantó encanto maravilloso precioso perfecto excelente increíble increible",
    "fr": "merci génial genial adore magnifique superbe parfait excellent formidable merveilleux",
}


class SentimentScorer:
    """-1..+1 for a text in a language; see the module docstring for what each language gets."""

    def __init__(self, languages: tuple[str, ...]) -> None:
        self._vader = SentimentIntensityAnalyzer()
        listed = tuple(code for code in languages if code in _NEGATIVE)
        self._forms = WordForms(listed) if listed else None
        self._lexicon: dict[str, float] = {}
        if self._forms is not None:
            for code in listed:
                for table, value in ((_NEGATIVE, -2.0), (_POSITIVE, 2.0)):
                    for word in table[code].split():
                        for key in self._forms.keys(normalize(word)):
                            if key.startswith(f"{code}:"):
                                self._lexicon[key] = value

    def __call__(self, text: str, language: str) -> float:
        if self._forms is None or language not in _NEGATIVE:
            return float(self._vader.polarity_scores(text)["compound"])
        prefix = f"{language}:"
        total = 0.0
        for token in words(normalize(text)):
            for key in self._forms.keys(token):
                if key.startswith(prefix):
                    total += self._lexicon.get(key, 0.0)
        if "!" in text and total:
            total *= 1.2
        return total / math.sqrt(total * total + 15) if total else 0.0  # VADER's normalization


__all__ = ["SentimentScorer"]
