"""Backends: the options compose, the matrix decides before any weights load, a fallback is
recorded, and every tiny model trains end to end under lora and qlora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sumexp.backends import probes
from sumexp.backends.base import BackendUnsupported
from sumexp.backends.matrix import BACKENDS as REGISTERED
from sumexp.backends.matrix import backend_for, fallback_chain, select_backend
from sumexp.errors import UserError
from sumexp.package_data import CONF_DIR
from tests.support.repo import TINY_MODELS

BACKENDS = ["full", "lora", "qlora", "unsloth"]
SHORT_RUN = [
    "data.max_train_samples=32",
    "data.max_eval_samples=4",
    "optim.max_steps=3",
    "optim.batch_size=8",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=4",
    "score.tokenizer=whitespace",
]


def test_each_backend_option_composes_with_the_shared_lora_values(compose_config):
    assert sorted(p.stem for p in (Path(CONF_DIR) / "backend").glob("*.yaml")) == sorted(BACKENDS)
    for name in BACKENDS:
        backend = compose_config([f"backend={name}"]).backend
        assert backend.name == name and backend.fallback is True
        assert "_target_" not in backend  # the class comes from the registry alone
        built = backend_for(backend, name)
        assert f"{type(built).__module__}.{type(built).__name__}" == REGISTERED[name].cls
        assert REGISTERED[name].adapters == (backend.lora is not None)
        if name == "full":
            assert backend.lora is None and backend.quantization is None
            continue
        lora = backend.lora
        assert (lora.r, lora.alpha, lora.dropout, lora.target_modules, lora.train_new_tokens) == (
            16,
            32,
            0.1,
            "all-linear",
            True,
        )
        assert (backend.quantization is None) == (name == "lora")
    qlora = compose_config(["backend=qlora"]).backend.quantization
    assert (qlora.quant_type, qlora.double_quant, qlora.compute_dtype) == ("nf4", True, "auto")
    assert compose_config(["backend=lora", "backend.lora.target_modules=null"]).backend.lora.target_modules is None


def test_the_matrix_covers_every_backend_family_and_device():
    assert set(REGISTERED) == set(BACKENDS)
    for name, entry in REGISTERED.items():
        assert set(entry.serves) == {(f, d) for f in ("causal", "seq2seq") for d in ("cpu", "cuda")}, name
    assert [key for name in REGISTERED for key, why in REGISTERED[name].serves.items() if why is not None] == [
        ("seq2seq", "cpu")  # the one pairing that cannot serve: unsloth's
    ]
    assert REGISTERED["unsloth"].serves[("seq2seq", "cpu")] is not None
    assert fallback_chain("unsloth") == ("unsloth", "qlora", "lora")
    assert fallback_chain("qlora") == ("qlora", "lora") and fallback_chain("full") == ("full",)


def test_unsloth_falls_back_for_seq2seq_on_a_cpu_with_the_reason(compose_config, monkeypatch):
    monkeypatch.setattr(probes, "device", lambda: "cpu")
    backend = select_backend(compose_config(["model=tiny_t5", "backend=unsloth"]))
    assert backend.name == "qlora" and type(backend).__name__ == "QLoRA"
    assert backend.quantization.quant_type == "nf4" and backend.lora.r == 16  # the unsloth option's own values
    assert backend.note.startswith("backend=unsloth cannot serve model=tiny_t5 (seq2seq) on cpu: unsloth trains")
    assert backend.note.endswith("trained with qlora instead")


def test_the_chain_goes_on_to_lora_and_names_every_reason(compose_config, monkeypatch):
    monkeypatch.setattr(probes, "device", lambda: "cpu")
    monkeypatch.setattr(probes, "bitsandbytes_4bit", lambda device: "bitsandbytes is not installed")
    backend = select_backend(compose_config(["model=tiny_bart", "backend=unsloth"]))
    assert backend.name == "lora" and backend.quantization is None
    assert "unsloth trains encoder-decoders" in backend.note and "qlora: bitsandbytes is not installed" in backend.note


def test_without_fallback_an_unservable_pairing_raises(compose_config, monkeypatch):
    monkeypatch.setattr(probes, "device", lambda: "cpu")
    with pytest.raises(BackendUnsupported) as err:
        select_backend(compose_config(["model=tiny_t5", "backend=unsloth", "backend.fallback=false"]))
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)
    assert "backend=unsloth cannot serve model=tiny_t5 (seq2seq) on cpu" in str(err.value)


def test_on_a_gpu_unsloth_serves_seq2seq_through_fastmodel(compose_config, monkeypatch):
    monkeypatch.setattr(probes, "device", lambda: "cuda")
    monkeypatch.setattr(probes, "unsloth_importable", lambda: None)
    backend = select_backend(compose_config(["model=tiny_t5", "backend=unsloth"]))
    assert backend.name == "unsloth" and backend.note is None


def test_the_family_table_agrees_with_transformers():
    """The table read before transformers is imported must name exactly its encoder-decoder LMs."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES as SEQ2SEQ

    def encoder_decoder(model_type):
        return getattr(CONFIG_MAPPING[model_type], "is_encoder_decoder", False) is True

    assert {t for t in SEQ2SEQ if encoder_decoder(t)} == probes.ENCODER_DECODER_TYPES
    for model_type in ("gpt2", "llama", "qwen2", "mistral", "gemma"):
        assert not encoder_decoder(model_type) and model_type not in probes.ENCODER_DECODER_TYPES


@pytest.mark.slow
def test_unsloth_on_tiny_t5_falls_back_and_metrics_say_why(compose_config, tmp_path):
    from sumexp.task import run_experiment

    metrics = run_experiment(compose_config(["model=tiny_t5", "backend=unsloth", *SHORT_RUN]), run_dir=tmp_path)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["status"] == "completed" and written["backend_requested"] == "unsloth"
    assert written["backend_effective"] == "qlora" and "FastModel on a GPU only" in written["backend_note"]
    assert metrics["backend_note"] == written["backend_note"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["lora", "qlora"])
@pytest.mark.parametrize("model", TINY_MODELS)
def test_each_tiny_model_trains_under_adapters(compose_config, tmp_path, model, backend):
    from safetensors.torch import load_file

    from sumexp.task import run_experiment

    metrics = run_experiment(compose_config([f"model={model}", f"backend={backend}", *SHORT_RUN]), run_dir=tmp_path)
    assert metrics["status"] == "completed" and metrics["train_steps"] == 3
    assert (metrics["backend_requested"], metrics["backend_effective"], metrics["backend_note"]) == (
        backend,
        backend,
        None,
    )
    assert 0 < metrics["params_trainable"] < 0.2 * metrics["params_total"]
    assert metrics["params_trainable_ratio"] == metrics["params_trainable"] / metrics["params_total"]
    assert metrics["train_tokens_per_second"] > 0
    adapter = load_file(tmp_path / "model" / "adapter_model.safetensors")
    lora_b = [tensor for name, tensor in adapter.items() if "lora_B" in name]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)  # peft starts B at zero: training moved every one
    assert any("trainable_tokens" in name for name in adapter)  # the placeholder rows are part of the adapter
    assert (tmp_path / "model" / "base" / "model.safetensors").is_file()  # random base weights: kept for predict
    assert len((tmp_path / "submission.csv").read_text().splitlines()) == 51


@pytest.mark.slow
def test_four_bit_weights_count_their_real_parameters(compose_config, tiny_tokenizers, tmp_path):
    from sumexp.backends.matrix import backend_for
    from sumexp.models.loading import load_model_config
    from sumexp.results.resources import parameter_counts

    counts = {}
    for name in ("lora", "qlora"):
        cfg = compose_config(["model=tiny_llama", f"backend={name}"])
        tok = tiny_tokenizers["tiny_llama"]
        built = backend_for(cfg.backend, name).build(cfg, tok, load_model_config(cfg.model, tok), tmp_path / name)
        counts[name] = parameter_counts(built.model)
    assert counts["qlora"] == counts["lora"]
