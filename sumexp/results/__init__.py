"""A run's results: what it measured (metrics.json) and the files written beside it, each atomically."""
