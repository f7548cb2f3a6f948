"""brandbot.runtime."""
