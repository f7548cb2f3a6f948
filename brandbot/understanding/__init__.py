"""Reading people's messages: language, sentiment and intents by example (I/O at load time).

This package sits beside ``brandbot.store`` and ``brandbot.networks``: it loads packaged
models and data files (the wordllama embedding weights, the language identifier, the
VADER lexicon) and implements the core's :class:`~brandbot.core.reading.Reader`
protocol. The core never imports it; the runtime builds a reader per generation (start
and reload), which embeds the intents' examples once.
"""

from brandbot.understanding.reader import TextReader, build_reader

__all__ = ["TextReader", "build_reader"]
