"""Data loading: the shipped sample, CSV/JSONL folders, multi-reference and every user error."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sumexp.data.sample import make_sample_splits, write_sample
from sumexp.data.splits import load_splits
from sumexp.errors import UserError
from tests.support.repo import SHARED_DATA


def data_cfg(compose_config, *overrides):
    return compose_config(list(overrides)).data


def test_sample_is_deterministic_and_competition_shaped():
    first, second = make_sample_splits(), make_sample_splits()
    assert {k: len(v) for k, v in first.items()} == {"train": 300, "dev": 50, "test": 50}
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    assert list(first["train"].columns) == ["fname", "dialogue", "summary", "topic"]
    assert list(first["test"].columns) == ["fname", "dialogue"]
    assert all(line.startswith("#Person") for d in first["train"]["dialogue"] for line in d.split("\n"))


def test_sample_splits_load(compose_config):
    splits = load_splits(data_cfg(compose_config), seed=0)
    assert (len(splits.train.ids), len(splits.dev.ids), len(splits.test.ids)) == (300, 50, 50)
    assert all(len(refs) == 1 for refs in splits.dev.references)
    assert splits.test.references == [[] for _ in range(50)]


def test_folder_of_csv_files_loads(compose_config, tmp_path):
    write_sample(tmp_path)
    splits = load_splits(data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}"), seed=0)
    assert splits.train.ids[:2] == ["train_0", "train_1"] and len(splits.test.ids) == 50
    assert splits.notes == []


def test_missing_train_file_trains_on_part_of_dev_and_says_so(compose_config, tmp_path):
    write_sample(tmp_path)
    (tmp_path / "train.csv").unlink()
    splits = load_splits(data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}"), seed=0)
    assert (len(splits.train.ids), len(splits.dev.ids)) == (40, 10)
    assert not set(splits.train.ids) & set(splits.dev.ids), "held-out dev rows must not be trained on"
    assert "train.csv not found" in splits.notes[0]


def test_multi_reference_numbered_columns_and_list_cells(compose_config, tmp_path):
    rows = [{"fname": "a", "dialogue": "#Person1#: 안녕", "summary1": "인사한다.", "summary2": "반긴다."}]
    pd.DataFrame(rows).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(rows).to_csv(tmp_path / "dev.csv", index=False)
    with open(tmp_path / "test.jsonl", "w") as handle:
        handle.write(json.dumps({"fname": "t", "dialogue": "#Person1#: 네", "summary": ["하나.", "둘."]}) + "\n")
    cfg = data_cfg(compose_config, "data=csv", f"data.dir={tmp_path}", "data.test_file=test.jsonl")
    splits = load_splits(cfg, seed=0)
    assert splits.dev.references == [["인사한다.", "반긴다."]]
    assert splits.test.references == [["하나.", "둘."]]


def test_other_column_names_are_configurable(compose_config, tmp_path):
    frame = pd.DataFrame({"id": ["x"], "text": ["#Person1#: 네"], "target": ["답한다."]})
    for split in ("train", "dev"):
        frame.to_json(tmp_path / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)
    cfg = data_cfg(
        compose_config,
        "data=jsonl",
        f"data.dir={tmp_path}",
        "data.test_file=null",
        "data.id_column=id",
        "data.dialogue_column=text",
        "data.summary_column=target",
    )
    splits = load_splits(cfg, seed=0)
    assert splits.train.references == [["답한다."]] and splits.test is None


def expect_user_error(cfg, *fragments):
    with pytest.raises(UserError) as err:
        load_splits(cfg, seed=0)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_folder_is_a_user_error(compose_config, tmp_path):
    expect_user_error(
        data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}/nope"), "nope", "folder not found"
    )
    expect_user_error(data_cfg(compose_config, "data=dialogsum_ko"), "data.dir is not set")


def test_missing_file_is_a_user_error(compose_config, tmp_path):
    write_sample(tmp_path)
    (tmp_path / "dev.csv").unlink()
    expect_user_error(
        data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}"), "dev.csv", "file not found"
    )


def test_missing_train_file_without_fallback_says_how_to_fix(compose_config, tmp_path):
    write_sample(tmp_path)
    (tmp_path / "train.csv").unlink()
    cfg = data_cfg(compose_config, "data=csv", f"data.dir={tmp_path}")
    expect_user_error(cfg, "train.csv", "data.train_file", "data.holdout_when_no_train")


def test_missing_columns_lists_the_columns_that_are_there(compose_config, tmp_path):
    write_sample(tmp_path)
    pd.DataFrame({"id": ["1"], "text": ["x"]}).to_csv(tmp_path / "dev.csv", index=False)
    cfg = data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}")
    expect_user_error(cfg, "dev.csv", "missing column(s) fname, dialogue, summary", "it has id, text")


def test_empty_split_is_a_user_error(compose_config, tmp_path):
    write_sample(tmp_path)
    pd.DataFrame(columns=["fname", "dialogue", "summary"]).to_csv(tmp_path / "train.csv", index=False)
    expect_user_error(data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}"), "train.csv", "no rows")
    (tmp_path / "train.csv").write_text("")
    expect_user_error(data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={tmp_path}"), "train.csv", "empty")


@pytest.mark.skipif(not (SHARED_DATA / "dialogsum-ko").is_dir(), reason="../shared/data/dialogsum-ko is not present")
def test_real_korean_folder_loads_with_dev_holdout(compose_config):
    cfg = data_cfg(compose_config, "data=dialogsum_ko", f"data.dir={SHARED_DATA / 'dialogsum-ko'}")
    splits = load_splits(cfg, seed=42)
    assert (len(splits.train.ids), len(splits.dev.ids), len(splits.test.ids)) == (399, 100, 499)
    assert splits.test.ids == list(pd.read_csv(SHARED_DATA / "dialogsum-ko" / "test.csv")["fname"])
    assert all(not line.endswith(" ") for d in splits.dev.dialogues for line in d.split("\n"))


def test_every_data_source_is_one_registered_reader_and_others_are_named_as_unknown(compose_config):
    from pathlib import Path

    from sumexp.checks import check_config
    from sumexp.data.sources import SOURCES
    from sumexp.package_data import CONF_DIR

    assert list(SOURCES) == ["sample", "files", "hf"]
    for option in (Path(CONF_DIR) / "data").glob("*.yaml"):
        assert compose_config([f"data={option.stem}"]).data.source in SOURCES, option.name
    wanted = "data.source=nope: not a data source; use one of sample, files, hf"
    with pytest.raises(UserError, match=wanted):
        check_config(compose_config(["data.source=nope"]))
    with pytest.raises(UserError, match=wanted):  # the loader says the same, for a config never checked
        load_splits(data_cfg(compose_config, "data.source=nope"), seed=1)
