"""Memory that measures the backend: model-state bytes equal the arithmetic from parameter counts and dtypes,
for every tiny family and backend, and the training measurements reach metrics.json."""

from __future__ import annotations

import math

import pytest

from tests.support.repo import TINY_MODELS

BACKENDS = ["full", "lora", "qlora"]
FP32 = 4  # bytes per fp32 element: every weight, adapter, gradient and Adam moment here is fp32 on a CPU


def one_step(compose_config, tiny_tokenizers, tmp_path, model_name: str, backend_name: str):
    """The backend's model and a Trainer after one optimizer step, in this process."""
    from sumexp.backends.matrix import backend_for
    from sumexp.data.sample import make_sample_splits
    from sumexp.features import Encoder
    from sumexp.models.loading import load_model_config
    from sumexp.training.meters import TrainingMeasurements
    from sumexp.training.trainer import build_trainer, training_arguments

    cfg = compose_config(
        [
            f"model={model_name}",
            f"backend={backend_name}",
            "optim.evaluate=false",
            "optim.max_steps=1",
            "optim.batch_size=4",
        ]
    )
    tokenizer = tiny_tokenizers[model_name]
    model_config = load_model_config(cfg.model, tokenizer)
    model = backend_for(cfg.backend, backend_name).build(cfg, tokenizer, model_config, tmp_path / "model").model
    train = make_sample_splits()["train"][:8]
    data = Encoder.from_config(cfg.model, tokenizer, model_config.is_encoder_decoder).features(
        list(train["dialogue"]), list(train["summary"])
    )
    args = training_arguments(cfg, str(tmp_path / "checkpoints"), "fp32", learning_rate=1e-3)
    trainer = build_trainer(cfg, model, tokenizer, data, [], evaluator=None, args=args)
    trainer.train()
    probe = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TrainingMeasurements))
    return model, probe.as_metrics(trainer.model, trainer.optimizer)


def expected_state(model, backend_name: str) -> dict[str, int]:
    """The arithmetic, from parameter counts and dtypes (model.parameters() lists a tied weight once).

    full:  every parameter 4 bytes weight + 4 gradient + 8 Adam (two fp32 moments)
    lora:  every parameter (frozen base, adapters, placeholder rows) 4 bytes weight; the trainable ones
           also 4 gradient + 8 Adam
    qlora: each 4-bit linear weight packs two elements per byte (numel / 2) and keeps its NF4 state: one
           uint8 absmax per 64-element block, the 16-value fp32 NF4 code and one fp32 offset, plus the
           double quantization of those absmax: one fp32 absmax per 256 blocks and a 256-value fp32 code;
           every other parameter 4 bytes; the trainable ones as in lora.
    AdamW also keeps one fp32 step counter per trainable tensor (4 bytes each).
    """
    import bitsandbytes as bnb

    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    quantized = {
        id(m.weight): m.weight.quant_state.shape.numel() for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)
    }
    weights = 0
    for param in params:
        if id(param) in quantized:
            elements = quantized[id(param)]
            blocks = math.ceil(elements / 64)
            weights += elements // 2 + blocks + 16 * FP32 + FP32 + math.ceil(blocks / 256) * FP32 + 256 * FP32
        else:
            weights += param.numel() * FP32
    if backend_name == "qlora":
        assert quantized, "qlora loaded no 4-bit layer"
    trained = sum(p.numel() for p in trainable)
    return {
        "memory_weights_bytes": weights,
        "memory_gradients_bytes": FP32 * trained,
        "memory_optimizer_bytes": 2 * FP32 * trained + FP32 * len(trainable),
    }


@pytest.mark.slow
@pytest.mark.parametrize("model_name", TINY_MODELS)
def test_model_state_bytes_equal_the_arithmetic_and_shrink_from_full_to_qlora(
    compose_config, tiny_tokenizers, tmp_path, model_name
):
    recorded = {}
    for backend_name in BACKENDS:
        model, metrics = one_step(compose_config, tiny_tokenizers, tmp_path / backend_name, model_name, backend_name)
        expected = expected_state(model, backend_name)
        assert {key: metrics[key] for key in expected} == expected, backend_name
        assert metrics["memory_model_state_bytes"] == sum(expected.values())
        if backend_name == "full":
            assert expected["memory_optimizer_bytes"] > 2 * expected["memory_weights_bytes"]
        recorded[backend_name] = metrics["memory_model_state_bytes"]
    assert recorded["qlora"] < recorded["lora"] < recorded["full"], recorded


def test_tied_and_shared_storage_counts_once():
    import torch

    from sumexp.results.memory import gradients_bytes, tensor_bytes, weights_bytes

    shared = torch.nn.Parameter(torch.zeros(10, 4))
    model = torch.nn.Module()
    model.embed, model.head = torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False)
    model.embed.weight = shared
    model.head.weight = torch.nn.Parameter(shared.data)  # another Parameter over the same storage
    assert weights_bytes(model) == 10 * 4 * FP32
    assert gradients_bytes(model) == 10 * 4 * FP32
    assert tensor_bytes([shared.data, shared.data.view(40)]) == 160


def test_on_a_gpu_the_training_peak_is_over_steps_only_and_the_lifetime_peak_survives(monkeypatch):
    """CUDA faked: the allocator's peak is reset at each step, so a generation peak between steps does not
    count as training, and peak_memory_mb still sees the highest figure of the run."""
    import torch

    from sumexp.results import memory, resources
    from sumexp.training.meters import TrainingMeasurements

    peak = {"now": 0}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: peak["now"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: peak.update(now=0))
    resources.reset_peak_memory()
    probe = TrainingMeasurements()
    for step_peak, generation_peak in ((300 * memory.MB, 900 * memory.MB), (200 * memory.MB, 0)):
        probe.on_step_begin(None, None, None)
        peak["now"] = step_peak
        probe.on_step_end(None, None, None)
        with memory.GENERATION:
            peak["now"] = generation_peak
    assert probe.train_peak_mb == 300 and memory.GENERATION.mb == 900
    assert resources.peak_memory_mb() == (900, "cuda_max_allocated")
    assert probe.rss_added_mb is None
