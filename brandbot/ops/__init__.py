"""brandbot.ops."""
