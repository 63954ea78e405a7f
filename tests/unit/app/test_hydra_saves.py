"""sumexp/app/hydra_saves.py: Hydra's .hydra/*.yaml are written whole or not at all, and a full disk there is one
line and exit 2."""

from __future__ import annotations

import errno
import inspect
import os

import hydra.core.utils as hydra_utils
import pytest
import yaml
from omegaconf import OmegaConf

from sumexp.app import hydra_saves
from sumexp.results import files


def test_hydra_saves_its_files_through_the_function_sumexp_replaces():
    """run_job calls `_save_config` by name: a Hydra that saved another way would write .hydra/ in place again."""
    import sumexp.app.job  # noqa: F401 - installs the atomic save, as every process that runs a job does

    assert "_save_config(" in inspect.getsource(hydra_utils.run_job)
    assert hydra_utils._save_config is hydra_saves.save_config_atomically


def test_a_save_replaces_the_file_whole(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("old: 1\n")
    hydra_saves.save_config_atomically(OmegaConf.create({"seed": 42}), "config.yaml", tmp_path / ".hydra")
    assert yaml.safe_load((tmp_path / ".hydra" / "config.yaml").read_text()) == {"seed": 42}
    assert os.listdir(tmp_path / ".hydra") == ["config.yaml"]


def test_a_full_disk_while_saving_is_one_line_and_leaves_no_file(tmp_path, monkeypatch, capsys):
    def full(path, text):
        with files.replacing(path) as handle:
            handle.write(text[:10].encode())
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "write_atomic", full)
    with pytest.raises(SystemExit) as stopped:
        hydra_saves.save_config_atomically(OmegaConf.create({"seed": 42}), "hydra.yaml", tmp_path / ".hydra")
    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"sumexp: error: {tmp_path}: the disk is full") and line.endswith("then run again")
    assert os.listdir(tmp_path / ".hydra") == []  # neither half a file nor its temporary copy
