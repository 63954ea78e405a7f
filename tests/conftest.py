"""Shared fixtures: compose configs the way the CLI does, and tiny tokenizers trained offline."""

from __future__ import annotations

import os
import signal
import tempfile

# One torch thread per pytest-xdist worker (and per CLI process it starts): make test runs a worker per core, and a
# second thread per worker would only contend. Set before anything imports torch. The serial pass, which runs
# beside the workers, gets one thread from the Makefile.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# make test starts the serial pass in the background of its shell, and a non-interactive shell starts a background
# job with SIGINT ignored; an ignored signal stays ignored in every process started from there, so the sweeps the
# tests stop with Ctrl-C would never hear it. The test process, and through it what it starts, gets Ctrl-C back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from sumexp.package_data import CONF_DIR
from sumexp.schema import register_configs
from tests.support.repo import TINY_MODELS

# Runs made by the tests (and the CLI subprocesses they start) cache encoded splits here, not in ~/.cache.
os.environ.setdefault("SUMEXP_CACHE_DIR", tempfile.mkdtemp(prefix="sumexp-test-cache-"))


@pytest.fixture(scope="session")
def compose_config():
    """compose_config(["model=tiny_t5", ...]) -> the composed, typed run config."""
    register_configs()

    def _compose(overrides=()):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    return _compose


@pytest.fixture(scope="session")
def sample_texts():
    from sumexp.data.sample import make_sample_splits

    train = make_sample_splits()["train"]
    return list(train["dialogue"]) + list(train["summary"])


@pytest.fixture(scope="session")
def tiny_tokenizers(compose_config, sample_texts):
    """{model name: its tokenizer trained on the sample}, as the task builds them."""
    from sumexp.models.loading import load_tokenizer

    return {name: load_tokenizer(compose_config([f"model={name}"]).model, sample_texts) for name in TINY_MODELS}


@pytest.fixture(scope="session")
def hub_folders(tmp_path_factory, sample_texts):
    """{shape: folder} for tiny models saved like KoBART, KoGPT2, T5 and Qwen (tests/support/hub_models.py)."""
    from tests.support.hub_models import HUB_SHAPES

    root = tmp_path_factory.mktemp("hub")
    return {shape: build(root / shape, sample_texts) for shape, (build, _option) in HUB_SHAPES.items()}


@pytest.fixture(scope="session")
def hub_model_config(compose_config, hub_folders):
    """hub_model_config(shape, *overrides) -> the run config that loads that folder as its model option."""
    from tests.support.hub_models import HUB_SHAPES

    def _config(shape, *overrides):
        option = HUB_SHAPES[shape][1]
        return compose_config([f"model={option}", f"model.checkpoint={hub_folders[shape]}", *overrides])

    return _config


@pytest.fixture(scope="session")
def checkpointed_run(tmp_path_factory):
    """A completed CLI run of the default model with QUICK_CHECKPOINTED (8 steps, checkpoints at 4 and 8), made
    once a session (once per xdist worker): the reference of the fault tests and the completed folder the
    run-folder tests copy. Read it; copy it to write into it."""
    from tests.support.cli import QUICK_CHECKPOINTED, sumexp_cli

    run_dir = tmp_path_factory.mktemp("checkpointed") / "run"
    run = sumexp_cli(f"hydra.run.dir={run_dir}", *QUICK_CHECKPOINTED)
    assert run.returncode == 0, run.stderr[-2000:]
    return run_dir


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory, compose_config, sample_texts):
    """The same tiny BART saved twice: as safetensors (save_pretrained) and as a pickle .bin only."""
    import torch

    from sumexp.models.loading import load_model, load_model_config, load_tokenizer

    scratch = compose_config(["model=tiny_bart"]).model
    tokenizer = load_tokenizer(scratch, sample_texts)
    model = load_model(scratch, tokenizer, load_model_config(scratch, tokenizer))
    safe, pickled = tmp_path_factory.mktemp("safe"), tmp_path_factory.mktemp("pickled")
    model.save_pretrained(safe)
    for folder in (safe, pickled):
        tokenizer.save_pretrained(folder)
    model.config.save_pretrained(pickled)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    return {"safe": safe, "pickled": pickled, "state": model.state_dict(), "tokenizer": tokenizer}


@pytest.fixture(scope="session")
def job_config():
    """compose(...) with the hydra node, as the launcher sees a job."""
    register_configs()

    def _compose(overrides=()):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.job.num = 0  # the launcher numbers its jobs
        return cfg

    return _compose


def pytest_collection_modifyitems(items):
    """Modules with the most slow tests first (each keeps its own order): make test hands a pytest-xdist worker a
    whole module at a time in this order, so the long ones start early instead of leaving one worker busy at the
    end while the other waits."""
    slow_per_module: dict[str, int] = {}
    for item in items:
        slow_per_module.setdefault(item.nodeid.split("::")[0], 0)
        slow_per_module[item.nodeid.split("::")[0]] += item.get_closest_marker("slow") is not None
    items.sort(key=lambda item: -slow_per_module[item.nodeid.split("::")[0]])
