"""Scoring: ROUGE for Korean (tokenization: Kiwi morphemes, whitespace, characters; the multi-reference scorer),
bootstrap intervals, and `python -m sumexp.score` (cli.py), which scores a prediction file against references."""
