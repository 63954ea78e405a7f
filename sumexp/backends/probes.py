"""What the backend matrix asks of this machine and model: the device, the model family, and
whether bitsandbytes 4-bit and unsloth really work here. None of it imports transformers, which
unsloth needs to import first."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from sumexp.errors import UserError, first_line

# Only consulted when a config.json does not say is_encoder_decoder (a tiny scratch model's type).
# A test keeps it equal to transformers' seq2seq LM types that are encoder-decoders.
ENCODER_DECODER_TYPES = frozenset(
    {
        "bart",
        "mbart",
        "plbart",
        "mvp",
        "t5",
        "mt5",
        "umt5",
        "longt5",
        "switch_transformers",
        "pegasus",
        "pegasus_x",
        "marian",
        "led",
        "bigbird_pegasus",
        "blenderbot",
        "blenderbot-small",
        "prophetnet",
        "m2m_100",
        "fsmt",
        "nllb-moe",
        "encoder-decoder",
        "t5gemma",
        "t5gemma2",
        "seamless_m4t",
        "seamless_m4t_v2",
    }
)


def device() -> str:
    """cuda where a CUDA GPU is visible, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_family(model_cfg) -> str:
    """seq2seq or causal, from the scratch config or the checkpoint's config.json."""
    if model_cfg.scratch is not None:
        model_type = model_cfg.scratch.model_type
        encoder_decoder = dict(model_cfg.scratch.config).get("is_encoder_decoder")
    else:
        config = _config_json(model_cfg)
        model_type, encoder_decoder = config.get("model_type"), config.get("is_encoder_decoder")
    if encoder_decoder is None:
        encoder_decoder = model_type in ENCODER_DECODER_TYPES
    return "seq2seq" if encoder_decoder else "causal"


def _config_json(model_cfg) -> dict:
    folder = Path(model_cfg.checkpoint)
    try:
        if folder.is_dir():
            return json.loads((folder / "config.json").read_text(encoding="utf-8"))
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(model_cfg.checkpoint, "config.json")).read_text(encoding="utf-8"))
    except Exception as err:  # missing file, no network, bad JSON: all the user's to fix
        first = first_line(err)
        raise UserError(
            f"model.checkpoint={model_cfg.checkpoint}: cannot read its config.json ({first}); check the name, "
            f"the network or a local folder"
        ) from None


def bitsandbytes_4bit(device_name: str) -> str | None:
    """None when a 4-bit layer trains here; else why not. On a CPU only a real forward and backward tells."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (pip install bitsandbytes)"
    try:
        import bitsandbytes as bnb
        import torch

        if device_name != "cpu":
            return None
        layer = bnb.nn.Linear4bit(64, 64, bias=True, compute_dtype=torch.float32, quant_type="nf4")
        layer.support_avx512bf16_for_cpu = False
        if not getattr(layer.weight, "bnb_quantized", False):
            layer.weight = layer.weight._quantize("cpu")
        inputs = torch.randn(2, 64, requires_grad=True)
        layer(inputs).sum().backward()
        return (
            None
            if inputs.grad is not None and bool(torch.isfinite(inputs.grad).all())
            else "its 4-bit backward gives no gradient"
        )
    except Exception as err:
        return f"bitsandbytes 4-bit does not run on this {device_name} ({_one_line(err)})"


def unsloth_importable() -> str | None:
    """Imports unsloth (the only honest check); None when it worked, else why not.

    A process that already imported transformers without unsloth is refused, not fallen back
    from: unsloth would patch a library that is already in use.
    """
    if "unsloth" in sys.modules:
        return None
    if "transformers" in sys.modules:
        raise UserError(
            "backend=unsloth: this process imported transformers before unsloth, which must come first to patch "
            "it; run the unsloth job in a fresh process (python -m sumexp ..., or a sweep's process-per-job launcher)"
        )
    if importlib.util.find_spec("unsloth") is None:
        return "unsloth is not installed (pip install -e .[unsloth]; see the README)"
    try:
        import unsloth  # noqa: F401  (patches transformers, peft and trl for this whole process)
    except Exception as err:
        return f"unsloth cannot be imported here ({_one_line(err)})"
    return None


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {first_line(err)[:200]}"
