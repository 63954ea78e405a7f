"""unsloth, always in a subprocess: it patches transformers for the whole process it runs in.

Where unsloth cannot be imported these tests skip with the reason; `make test` sets
SUMEXP_REQUIRE_UNSLOTH=1, so there they fail instead (CI installs unsloth's CPU path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sumexp.data.sample import write_sample
from tests.support.cli import FOUR_LOGGED_STEPS, sumexp_cli
from tests.support.hub_models import HUB_SHAPES
from tests.support.limits import hang_limit
from tests.support.repo import REPO
from tests.support.runs import train_losses
from tests.support.skips import skip_unless_unsloth

pytestmark = pytest.mark.slow  # every test here starts a process or trains a model

# Enough training (lr 1e-2, 12 steps) that summaries differ from row to row, so reproducing them means something.
LEARNING_RUN = [
    "data.max_train_samples=96",
    "data.max_eval_samples=8",
    "optim.max_steps=12",
    "optim.batch_size=8",
    "optim.lr=1e-2",
    "optim.eval_steps=12",
    "optim.eval_on_start=false",
    "generation.num_beams=1",
    "generation.max_new_tokens=12",
    "score.tokenizer=whitespace",
]


def in_subprocess(code: str):
    prelude = (
        "from hydra import compose, initialize_config_dir\n"
        "from sumexp.package_data import CONF_DIR\n"
        "from sumexp.schema import register_configs\n"
        "register_configs()\n"
        "def config(*overrides):\n"
        "    with initialize_config_dir(config_dir=str(CONF_DIR), version_base='1.3'):\n"
        "        return compose(config_name='config', overrides=list(overrides))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=hang_limit(300), cwd=REPO
    )


def test_unsloth_trains_tiny_llama_on_its_cpu_path_and_predict_reproduces_it(tmp_path):
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}/run", "model=tiny_llama", "backend=unsloth", "backend.fallback=false", *LEARNING_RUN
    )
    skip_unless_unsloth(run)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Unsloth (CPU): LlamaForCausalLM" in run.stdout + run.stderr  # unsloth's own loader ran
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # On a CPU unsloth's loader builds stock transformers + bitsandbytes + peft: recorded as what it computes.
    assert (metrics["status"], metrics["backend_requested"], metrics["backend_effective"]) == (
        "completed",
        "unsloth",
        "qlora",
    )
    assert "unsloth's CPU loader" in metrics["backend_note"]
    assert 0 < metrics["params_trainable"] < metrics["params_total"]
    assert (tmp_path / "run" / "model" / "adapter_model.safetensors").is_file()
    write_sample(tmp_path / "data")
    predicted = subprocess.run(
        [
            sys.executable,
            "-m",
            "sumexp.predict",
            str(tmp_path / "run"),
            "--input",
            str(tmp_path / "data" / "test.csv"),
            "--output",
            str(tmp_path / "again.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=hang_limit(300),
        cwd=REPO,
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    submission = (tmp_path / "run" / "submission.csv").read_text()
    assert (tmp_path / "again.csv").read_text() == submission
    assert len(set(submission.splitlines()[1:])) >= 5  # varied summaries: reproducing them is not trivial
    # unsloth's own merge (what --merge runs where the run is recorded as unsloth, on a GPU): into its 4-bit
    # base dequantized, so the merged model computes what base + adapter computed.
    merged = in_subprocess(
        "import unsloth, torch\n"
        "from pathlib import Path\n"
        "from sumexp import predict\n"
        "from sumexp.backends.matrix import backend_for\n"
        f"run = Path({str(tmp_path / 'run')!r})\n"
        "cfg, _ = predict.read_run(run)\n"
        "tokenizer = predict._tokenizer(run / 'model')\n"
        "backend = backend_for(cfg.backend, 'unsloth')\n"
        "print('4BIT', backend.trained_base(cfg, tokenizer, run / 'model').is_loaded_in_4bit)\n"
        "adapted = backend.load_trained(cfg, tokenizer, run / 'model').eval()\n"
        "merged = backend.load_merged(cfg, tokenizer, run / 'model').eval()\n"
        "ids = tokenizer(['#Person1#: 안녕하세요.\\n#Person2#: 네, 반갑습니다.'], return_tensors='pt')\n"
        "with torch.no_grad():\n"
        "    gap = (adapted(**ids).logits - merged(**ids).logits).abs().max().item()\n"
        "print('GAP', gap, 'QUANTIZED', any(type(m).__name__ == 'Linear4bit' for m in merged.modules()))\n"
    )
    assert "4BIT True" in merged.stdout, merged.stderr[-3000:]  # the adapter trained against 4-bit weights
    gap = float(merged.stdout.split("GAP ")[1].split()[0])
    assert gap < 1e-4 and "QUANTIZED False" in merged.stdout, merged.stdout[-2000:]


def test_unsloth_refuses_a_process_that_imported_transformers_first():
    out = in_subprocess(
        "import transformers\n"
        "from sumexp.backends.matrix import select_backend\n"
        "from sumexp.errors import UserError\n"
        "try:\n    select_backend(config('model=tiny_llama', 'backend=unsloth'))\n"
        "except UserError as err:\n    print('REFUSED', err)\n"
    )
    assert "REFUSED backend=unsloth: this process imported transformers before unsloth" in out.stdout, out.stderr[
        -2000:
    ]
    assert "unsloth" not in out.stdout.split("REFUSED", 1)[0]


def test_other_backends_refuse_a_process_that_unsloth_patched():
    out = in_subprocess(
        "import importlib.util, sys\n"
        "if importlib.util.find_spec('unsloth') is None:\n    print('NO UNSLOTH'); sys.exit(0)\n"
        "import unsloth\n"
        "from sumexp.backends.matrix import select_backend\n"
        "from sumexp.errors import UserError\n"
        "try:\n    select_backend(config('model=tiny_llama', 'backend=lora'))\n"
        "except UserError as err:\n    print('REFUSED', err)\n"
    )
    if "NO UNSLOTH" in out.stdout:
        if os.environ.get("SUMEXP_REQUIRE_UNSLOTH") == "1":
            pytest.fail("SUMEXP_REQUIRE_UNSLOTH=1 but unsloth is not installed")
        pytest.skip("unsloth is not installed")
    assert "REFUSED backend=lora: this process already imported unsloth" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("shape", [s for s in HUB_SHAPES if s in ("kogpt2", "qwen")])
def test_causal_hub_shaped_folders_train_under_unsloth(hub_folders, tmp_path, shape):
    option = HUB_SHAPES[shape][1]
    run = sumexp_cli(
        f"hydra.run.dir={tmp_path}",
        f"model={option}",
        f"model.checkpoint={hub_folders[shape]}",
        "backend=unsloth",
        "backend.fallback=false",
        *FOUR_LOGGED_STEPS,
    )
    skip_unless_unsloth(run)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # On a CPU unsloth's loader builds stock transformers + bitsandbytes + peft: recorded as what it computes.
    assert (metrics["status"], metrics["backend_requested"], metrics["backend_effective"]) == (
        "completed",
        "unsloth",
        "qlora",
    )
    losses = train_losses(tmp_path)
    assert len(losses) == 4 and losses[-1] < losses[0], losses
