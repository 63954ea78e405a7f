"""ROUGE for Korean: tokenization (Kiwi morphemes, whitespace, characters) and the multi-reference scorer."""
