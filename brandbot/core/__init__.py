"""brandbot.core."""
