"""The loading code for real checkpoints, proved offline on tiny models saved like each real family.

KoBART- and KoGPT2-style folders hold a character BPE that AutoTokenizer wraps in a byte-level class
which drops every Korean character, with no error; these tests fail if that comes back.
"""

from __future__ import annotations

import json
import unicodedata

import pandas as pd
import pytest

from sumexp.errors import UserError
from sumexp.features import Encoder
from sumexp.models.fidelity import check_tokenizer, measure_fidelity
from sumexp.models.loading import load_model_config, load_tokenizer
from sumexp.task import run_experiment
from tests.support.hub_models import HUB_SHAPES

SHAPES = list(HUB_SHAPES)
# Ten epochs from the seeded random weights of tests/support/hub_models.py: measured 79 (KoBART), 79 (KoGPT2),
# 60 (T5) and 79 (Qwen) ROUGE-mean points over 0 untrained; other weight seeds gave KoBART 46-78.
# 20 leaves room for that and still fails a run that learned nothing (six epochs gave 11-22).
LEARNING_MARGIN = 20.0


def comparable(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


@pytest.mark.parametrize("shape", SHAPES)
def test_the_encoded_inputs_hold_the_dialogue(hub_model_config, sample_texts, shape):
    """What the model is trained on decodes back to the dialogue and the summary, not just specials."""
    from sumexp.data.sample import make_sample_splits

    cfg = hub_model_config(shape)
    tokenizer = load_tokenizer(cfg.model, [])
    encoder = Encoder.from_config(cfg.model, tokenizer, load_model_config(cfg.model, tokenizer).is_encoder_decoder)
    train = make_sample_splits()["train"]
    dialogue, summary = train["dialogue"][0], train["summary"][0]
    features = encoder.train_features(dialogue, summary)
    seen = comparable(tokenizer.decode(features["input_ids"], skip_special_tokens=True))
    assert comparable(dialogue) in seen
    label_ids = [i for i in features["labels"] if i >= 0]
    assert comparable(tokenizer.decode(label_ids, skip_special_tokens=True)) == comparable(summary)
    assert label_ids[-1] == tokenizer.eos_token_id
    assert measure_fidelity(tokenizer, sample_texts[:40]).roundtrip_share == 1.0


@pytest.mark.parametrize("shape", ["kobart", "kogpt2"])
def test_autotokenizer_on_a_character_bpe_is_stopped_with_the_fix(hub_model_config, sample_texts, shape):
    """Without model.tokenizer_class, AutoTokenizer loses the Korean text; the check names the fix."""
    cfg = hub_model_config(shape, "model.tokenizer_class=null")
    tokenizer = load_tokenizer(cfg.model, [])
    assert type(tokenizer).__name__ in ("RobertaTokenizer", "GPT2Tokenizer")
    assert measure_fidelity(tokenizer, sample_texts[:40]).lost_share == 1.0
    with pytest.raises(UserError, match=r"loses the text.*model.tokenizer_class=PreTrainedTokenizerFast"):
        check_tokenizer(tokenizer, sample_texts[:40], cfg.model)


def test_a_tokenizer_missing_words_warns_and_goes_on(hub_model_config, caplog):
    """Text outside the vocabulary becomes <unk>: reported (t5_base on Korean), not a stop."""
    cfg = hub_model_config("t5")
    tokenizer = load_tokenizer(cfg.model, [])
    foreign = ["Ελληνικά κείμενα με άγνωστους χαρακτήρες", "Кириллица тоже неизвестна"]
    fidelity = check_tokenizer(tokenizer, foreign, cfg.model)
    assert fidelity.unk_share > 0.3 and fidelity.lost_share == 0.0
    assert "unknown to its tokenizer" in caplog.text


def test_a_cut_source_keeps_the_eos_the_tokenizer_adds(hub_model_config):
    """T5's tokenizer ends every source with EOS; cutting a long dialogue must keep it."""
    cfg = hub_model_config("t5", "model.max_source_length=12")
    tokenizer = load_tokenizer(cfg.model, [])
    encoder = Encoder.from_config(cfg.model, tokenizer, is_encoder_decoder=True)
    dialogue = "#Person1#: 내일 도서관에서 만나요.\n#Person2#: 좋아요, 오후 3시에 봐요." * 5
    body = tokenizer(encoder.source_prefix + dialogue, add_special_tokens=False)["input_ids"]
    ids = encoder.prompt_ids(dialogue)
    assert ids == body[:11] + [tokenizer.eos_token_id]
    assert encoder.prompt_ids("#Person1#: 네.")[-1] == tokenizer.eos_token_id


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_a_hub_shaped_folder_trains_and_its_run_folder_reloads(hub_model_config, tmp_path, shape):
    """model.checkpoint=FOLDER end to end: it learns, records the tokenizer's figures, and the saved
    model/ reloads with AutoTokenizer and writes the recorded dev predictions at any batch size."""
    cfg = hub_model_config(
        shape,
        "optim.lr=1e-3",
        # 10 epochs of the 300-row sample at batch 16; dev scored before training and once after it, since
        # what is tested is what the folder holds at the end, not the curve.
        "optim.max_steps=190",
        "optim.eval_steps=190",
        "optim.batch_size=16",
        "generation.num_beams=1",
        "generation.max_new_tokens=32",
        "data.max_eval_samples=16",
        "model.max_target_length=48",
    )
    metrics = run_experiment(cfg, run_dir=tmp_path)
    assert metrics["status"] == "completed"
    assert metrics["dev_rouge_mean"] >= metrics["dev_rouge_mean_untrained"] + LEARNING_MARGIN, metrics
    assert metrics["tokenizer"]["roundtrip_share"] == 1.0 and metrics["tokenizer"]["lost_share"] == 0.0
    assert json.loads((tmp_path / "metrics.json").read_text())["tokenizer"] == metrics["tokenizer"]
    recorded = pd.read_csv(tmp_path / "dev_predictions.csv", keep_default_na=False)["prediction"].tolist()
    assert reload_and_generate(cfg, tmp_path, batch_size=1) == recorded
    assert reload_and_generate(cfg, tmp_path, batch_size=16) == recorded


def reload_and_generate(cfg, run_dir, batch_size: int) -> list[str]:
    """The saved model and tokenizer, loaded the plain transformers way, on the run's dev dialogues."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from sumexp.data.sample import make_sample_splits
    from sumexp.generation import generate_summaries

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    dialogues = list(make_sample_splits()["dev"]["dialogue"][:16])
    as_trained = load_tokenizer(cfg.model, [])  # the checkpoint's tokenizer with the placeholders added
    assert tokenizer(dialogues)["input_ids"] == as_trained(dialogues)["input_ids"]
    seq2seq = AutoConfig.from_pretrained(run_dir / "model").is_encoder_decoder
    model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(run_dir / "model")
    encoder = Encoder.from_config(cfg.model, tokenizer, seq2seq)
    return generate_summaries(
        model,
        tokenizer,
        [encoder.prompt_ids(d) for d in dialogues],
        cfg.generation,
        cfg.generation.max_new_tokens,
        batch_size,
    )


@pytest.mark.slow
def test_the_cli_stops_a_run_whose_tokenizer_drops_the_text(hub_folders, tmp_path):
    """The whole CLI: one line naming the fix, exit 2, and a run folder that says it failed."""
    from tests.support.cli import expect_one_line_error, sumexp_cli

    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        "model=kobart",
        f"model.checkpoint={hub_folders['kobart']}",
        "model.tokenizer_class=null",
    )
    expect_one_line_error(
        run, "model=kobart", "RobertaTokenizer", "loses the text", "model.tokenizer_class=PreTrainedTokenizerFast"
    )
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"
    assert not (tmp_path / "submission.csv").exists()
