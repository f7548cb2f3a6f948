"""brandbot: a brand's conversational engagement bot."""
