"""Tokenizers and models: loaded from a checkpoint, or tiny and random offline, and checked on load."""
