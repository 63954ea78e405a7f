"""Text normalization and the four ROUGE tokenizations: morpheme, whitespace, char, rouge_score."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable

from sumexp.errors import UserError
from sumexp.text import visible_form

TOKENIZERS = ("morpheme", "whitespace", "char", "rouge_score")
# Special tokens that KoBART-style models leave in decoded text when skip_special_tokens is off.
SPECIAL_TOKENS = ("<s>", "</s>", "<pad>", "<unk>", "<usr>")
# Masked names and personal data in DialogSum: #Person1#..#Person7#, #PhoneNumber#, #Email#, ...
PLACEHOLDER_PATTERN = r"#[A-Za-z]+\d*#"

_SPECIAL_RE = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))
_SPACES_RE = re.compile(r"\s+")
_PLACEHOLDER_RE = re.compile(PLACEHOLDER_PATTERN)
# A capturing split puts the placeholders at the odd indices of the result.
_PLACEHOLDER_SPLIT_RE = re.compile(f"({PLACEHOLDER_PATTERN})")

_kiwi = None
_kiwi_lock = threading.Lock()


def normalize(text: str) -> str:
    """One spelling for one text (text.visible_form: composed, nothing invisible), model special tokens stripped,
    runs of whitespace collapsed to one space."""
    text = visible_form(text)
    # A space, not "", so that "a</s>b" cannot glue two words together.
    return _SPACES_RE.sub(" ", _SPECIAL_RE.sub(" ", text)).strip()


def get_kiwi():
    """The process-wide Kiwi analyzer, loaded and warmed on first use (about 2 s)."""
    global _kiwi
    with _kiwi_lock:
        if _kiwi is None:
            from kiwipiepy import Kiwi

            kiwi = Kiwi()
            # Kiwi initializes lazily on its first analysis (~1.4 s): pay that here, once.
            kiwi.tokenize("가")
            _kiwi = kiwi
        return _kiwi


def _placeholder_spans(text: str) -> list[tuple[int, int, str]]:
    """Kiwi `pretokenized` spans that force each placeholder to be one proper-noun token."""
    return [(m.start(), m.end(), "NNP") for m in _PLACEHOLDER_RE.finditer(text)]


def _morphemes(texts: list[str], progress: bool) -> list[list[str]]:
    """Kiwi morpheme forms for a whole batch in one call (Kiwi uses its worker threads)."""
    if not texts:
        return []
    results = get_kiwi().tokenize(texts, pretokenized=_placeholder_spans)
    results = progress_bar(results, progress, len(texts))
    return [[token.form for token in tokens] for tokens in results]


def _keeping_placeholders(text: str, split) -> list[str]:
    """`split` applied between placeholders, each placeholder kept as one token."""
    tokens: list[str] = []
    for i, part in enumerate(_PLACEHOLDER_SPLIT_RE.split(text)):
        tokens.extend([part] if i % 2 else split(part))
    return tokens


def _whitespace(text: str) -> list[str]:
    """Eojeol tokens, with placeholders split off the particles glued to them."""
    return _keeping_placeholders(text, str.split)


def _chars(text: str) -> list[str]:
    """One token per non-space character; a placeholder stays one token."""
    return _keeping_placeholders(text, lambda part: [c for c in part if not c.isspace()])


@functools.lru_cache(maxsize=2)
def _google_tokenizer(use_stemmer: bool):
    """rouge-score's DefaultTokenizer, built once (the Porter stemmer is not free)."""
    from rouge_score.tokenizers import DefaultTokenizer

    return DefaultTokenizer(use_stemmer)


def check_choice(value: str, choices: tuple[str, ...], key: str) -> str:
    """Return `value` if it is one of `choices`, else raise a UserError naming them."""
    if value not in choices:
        raise UserError(f"{key}={value!r} is not supported; use one of: {', '.join(choices)}")
    return value


class Tokenizer:
    """Normalize then tokenize with one of TOKENIZERS; `.tokenize` also suits rouge-score."""

    def __init__(self, tokenizer: str = "morpheme", use_stemmer: bool = False):
        self.name = check_choice(tokenizer, TOKENIZERS, "tokenizer")
        # Porter stemming is English-only, so only Google's tokenizer uses it.
        self.use_stemmer = bool(use_stemmer)

    def tokenize(self, text: str) -> list[str]:
        """Tokens of one text (rouge_scorer.RougeScorer(tokenizer=...) calls this)."""
        return self.tokenize_batch([text])[0]

    def tokenize_batch(self, texts: Iterable[str], progress: bool = False) -> list[list[str]]:
        """Tokens of many texts; Kiwi gets them as one batch."""
        texts = [normalize(t) for t in texts]
        if self.name == "morpheme":
            return _morphemes(texts, progress)
        split = {"whitespace": _whitespace, "char": _chars}.get(self.name)
        if split is None:
            split = _google_tokenizer(self.use_stemmer).tokenize
        return [split(t) for t in progress_bar(texts, progress, len(texts))]


def progress_bar(items: Iterable, enabled: bool, total: int, desc: str = "tokenize") -> Iterable:
    """`items` wrapped in a tqdm bar (on stderr) when enabled, else unchanged."""
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc)
