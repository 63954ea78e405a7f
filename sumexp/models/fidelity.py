"""Check that a tokenizer keeps the text: a wrong tokenizer class can drop every Korean character
without an error (RobertaTokenizer around KoBART's vocabulary encodes Korean to nothing)."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import asdict, dataclass

from sumexp.errors import UserError

log = logging.getLogger(__name__)

SAMPLE_SIZE = 64  # texts of each kind: dialogues and summaries; well under a second to encode
LOST_LIMIT = 0.5  # more texts than this silently losing their content stops the run
UNK_WARNING = 0.01  # a larger share of unknown tokens is worth a warning (t5_base on Korean)


@dataclass
class Fidelity:
    """What a tokenizer does to a sample of the run's own texts."""

    texts: int
    unk_share: float  # unknown tokens among all non-special tokens
    empty_share: float  # texts that encode to nothing but special tokens
    roundtrip_share: float  # texts that decode back to themselves, whitespace and NFKC aside
    lost_share: float  # texts that neither decode back nor contain an unknown token: silently changed
    example: str = ""  # the first lost text and what it decoded to

    def as_dict(self) -> dict:
        return asdict(self)


def measure_fidelity(tokenizer, texts: list[str]) -> Fidelity:
    """Encode and decode each text; count unknown tokens, empty encodings and silent losses."""
    specials = set(tokenizer.all_special_ids)
    unk = tokenizer.unk_token_id
    tokens = unks = empty = roundtrips = lost = 0
    example = ""
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    for text, ids in zip(texts, encoded):
        content = [i for i in ids if i not in specials or i == unk]
        has_unk = unk is not None and unk in content
        tokens += len(content)
        unks += sum(i == unk for i in content)
        empty += not content
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        if _comparable(decoded) == _comparable(text):
            roundtrips += 1
        elif not has_unk:
            lost += 1
            example = example or f"{text[:30]!r} -> {decoded[:30]!r}"
    n = max(len(texts), 1)
    return Fidelity(len(texts), unks / max(tokens, 1), empty / n, roundtrips / n, lost / n, example)


def check_tokenizer(tokenizer, texts: list[str], model_cfg) -> Fidelity:
    """Stop the run when the tokenizer loses the text; warn when many tokens are unknown."""
    fidelity = measure_fidelity(tokenizer, texts)
    name = type(tokenizer).__name__
    if fidelity.empty_share > LOST_LIMIT or fidelity.lost_share > LOST_LIMIT:
        raise UserError(
            f"model={model_cfg.name}: its tokenizer ({name}) loses the text: {fidelity.empty_share:.0%} of "
            f"{fidelity.texts} sampled texts encode to special tokens only and {fidelity.lost_share:.0%} do not "
            f"decode back (e.g. {fidelity.example}); set model.tokenizer_class=PreTrainedTokenizerFast, "
            f"or use another checkpoint"
        )
    if fidelity.unk_share > UNK_WARNING:
        log.warning(
            "model=%s: %.1f%% of the tokens of the run's texts are unknown to its tokenizer (%s); its vocabulary "
            "does not cover this language well, consider a multilingual checkpoint",
            model_cfg.name,
            100 * fidelity.unk_share,
            name,
        )
    return fidelity


def fidelity_sample(dialogues: list[str], summaries: list[str]) -> list[str]:
    """The texts the check encodes: the first dialogues and summaries of the training split."""
    return dialogues[:SAMPLE_SIZE] + summaries[:SAMPLE_SIZE]


def _comparable(text: str) -> str:
    """Text with whitespace removed and compatibility forms unified, as normalizers may change both."""
    return "".join(unicodedata.normalize("NFKC", text).split())
