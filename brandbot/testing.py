"""pytest fixtures and fakes for plugin authors (registered as the ``brandbot`` pytest plugin)."""
