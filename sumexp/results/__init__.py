"""A run's results: what it measured and the files written beside metrics.json, each atomically."""
