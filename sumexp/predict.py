"""`python -m sumexp.predict RUN_DIR --input FILE [--output FILE] [--merge]`: summarize new dialogues
with a finished run's model (full or adapter), encoded and decoded exactly as the run did it.

Reads `fname,dialogue` rows (the run's data.id_column / data.dialogue_column) and writes
`fname,summary`; given the test file the run used, it reproduces the run's submission.csv.
`--merge` also writes the adapter merged into its base, a plain transformers model, to RUN_DIR/model_merged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from sumexp.errors import UserError, first_line, run_cli
from sumexp.run import record as run_record

MERGED_DIR = "model_merged"
# What an --output must never replace: the run's record, its results, its logs and everything in its folders.
RUN_FILES = (
    "metrics.json",
    "submission.csv",
    "dev_predictions.csv",
    "train_log.jsonl",
    "sumexp.log",
    "stdout.log",
    "stderr.log",
)
RUN_FOLDERS = ("model", MERGED_DIR, "checkpoints", ".hydra", ".submitit")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_cli(lambda: predict(args.run_dir, args.input, args.output, args.merge, args.max_file_mb))


def predict(
    run_dir: Path, input_file: Path | None, output: Path | None, merge: bool, max_file_mb: float | None = None
) -> None:
    if input_file is None and not merge:
        raise UserError("--input: no input file; pass --input FILE with fname,dialogue rows (or --merge alone)")
    cfg, backend_name = read_run(run_dir)
    if output is not None:  # before anything loads: a misdirected output fails in a second
        check_output(output, run_dir, input_file)
    backend = _backend(cfg, backend_name)
    if merge and not hasattr(backend, "load_merged"):
        raise UserError(f"--merge: {run_dir} is a {backend.name} run; its model/ is a full model already")
    backend.prepare_process()  # unsloth runs: unsloth is imported before transformers
    # A bad file fails before the model loads.
    rows = _read_rows(input_file, cfg, max_file_mb) if input_file is not None else None
    model_dir = run_dir / "model"
    tokenizer = _loaded(model_dir, "tokenizer", lambda: _tokenizer(model_dir))
    if rows is not None:
        output = output or run_dir / f"predict_{input_file.stem}.csv"
        model = _loaded(model_dir, "weights", lambda: backend.load_trained(cfg, tokenizer, model_dir))
        summaries = summarize(cfg, model, tokenizer, rows[1])
        from sumexp.results.files import write_submission

        write_submission(output, rows[0], summaries)
        print(f"sumexp: {len(summaries)} summaries -> {output}")
    if merge:
        print(f"sumexp: merged model -> {_write_merged(cfg, backend, tokenizer, run_dir)}")


def read_run(run_dir: Path):
    """The run's resolved config and the backend that trained it; a run that did not finish is an error."""
    from omegaconf import OmegaConf

    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: run folder not found; pass the folder of a finished run (outputs/DATE/TIME_...)")
    config, metrics, model_dir = run_dir / ".hydra" / "config.yaml", run_dir / "metrics.json", run_dir / "model"
    if not config.is_file():
        raise UserError(f"{run_dir}: no .hydra/config.yaml; this is not a sumexp run folder")
    try:
        record = json.loads(metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    if record.get("status") != run_record.COMPLETED:
        raise UserError(
            f"{run_dir}: the run did not complete (metrics.json status {record.get('status')!r}); predict with a finished run"
        )
    if not ((model_dir / "adapter_config.json").is_file() or (model_dir / "config.json").is_file()):
        raise UserError(
            f"{run_dir}: no model in model/ (neither config.json nor adapter_config.json); the run folder is incomplete"
        )
    return OmegaConf.load(config), record.get("backend_effective") or record.get("backend_requested")


def check_output(output: Path, run_dir: Path, input_file: Path | None) -> None:
    """Refuse an output that would replace one of the run's own files, the input, or a folder."""
    target, run = output.resolve(), run_dir.resolve()
    problem = None
    if target.is_dir():
        problem = "is a folder; give a file name inside it, e.g. --output " + str(output / "summaries.csv")
    elif input_file is not None and target == input_file.resolve():
        problem = "is the input file; write the summaries to another file"
    elif target.is_relative_to(run):
        inner = target.relative_to(run)
        if inner.parts[0] in RUN_FOLDERS or str(inner) in RUN_FILES or inner.name.startswith("."):
            problem = (
                f"would replace the run's own {inner}; write the summaries to another file, e.g. {run_dir}/predict.csv"
            )
    if problem:
        raise UserError(f"--output {output}: {problem}")


def summarize(cfg, model, tokenizer, dialogues: list[str]) -> list[str]:
    """Summaries of `dialogues` with the run's own encoding and generation settings."""
    from sumexp.features import Encoder
    from sumexp.generation import generate_summaries, new_token_limit

    encoder = Encoder.from_config(cfg.model, tokenizer, model.config.is_encoder_decoder)
    prompts = [encoder.prompt_ids(d) for d in dialogues]
    return generate_summaries(
        model, tokenizer, prompts, cfg.generation, new_token_limit(cfg), cfg.optim.eval_batch_size, desc="predict"
    )


def _backend(cfg, name: str):
    from sumexp.backends.matrix import BACKENDS, backend_for

    if name not in BACKENDS:
        raise UserError(
            f"metrics.json: backend_effective={name} is not a backend this sumexp knows ({', '.join(BACKENDS)})"
        )
    return backend_for(cfg.backend, name)


def _read_rows(path: Path, cfg, max_file_mb: float | None) -> tuple[list[str], list[str]]:
    """(ids, dialogues) read and checked exactly as the run read its test split; ids are only ever written out."""
    from sumexp.data.splits import frame_to_split
    from sumexp.data.tables import MAX_FILE_MB, read_table

    limit = max_file_mb or cfg.data.get("max_file_mb", MAX_FILE_MB)
    table = read_table(path, cfg.data.get("encoding", "utf-8"), limit, limit_key="--max-file-mb")
    split = frame_to_split("input", (table, str(path)), cfg.data, labelled=False, notes=[])
    return split.ids, split.dialogues


def _loaded(model_dir: Path, what: str, load):
    """load(), with a damaged or foreign model/ (weights only as a pickle, a safetensors header that lies about
    its sizes, a cut-off tokenizer.json) reported in one line: the run's own files, never code to run."""
    from safetensors import SafetensorError

    from sumexp.security.trust import PICKLE_SUFFIXES

    pickles = sorted({p.suffix for p in model_dir.iterdir() if p.suffix in PICKLE_SUFFIXES})
    if what == "weights" and pickles and not list(model_dir.glob("*.safetensors")):
        raise UserError(
            f"{model_dir}: its weights are only pickle ({', '.join(pickles)}), which sumexp never loads (loading a "
            f"pickle can run code); a run writes model.safetensors: copy model/ again from the run, or run it again"
        )
    try:
        return load()
    except (OSError, ValueError, SafetensorError) as err:
        raise UserError(
            f"{model_dir}: cannot load its {what} ({first_line(err)}); model/ is damaged or incomplete: copy it "
            f"again from the run, or run it again (force=true)"
        ) from None


def _tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def _write_merged(cfg, backend, tokenizer, run_dir: Path) -> Path:
    """The adapter merged into its base, saved whole or not at all."""
    target = run_dir / MERGED_DIR
    staging = run_dir / f".{MERGED_DIR}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    backend.load_merged(cfg, tokenizer, run_dir / "model").save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sumexp.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run's folder (it holds .hydra/, metrics.json, model/)")
    parser.add_argument("--input", type=Path, help="CSV or JSONL with fname,dialogue rows")
    parser.add_argument(
        "--output", type=Path, help="where to write fname,summary (default RUN_DIR/predict_<input name>.csv)"
    )
    parser.add_argument(
        "--max-file-mb", type=float, help="refuse a larger --input (default: the run's data.max_file_mb)"
    )
    parser.add_argument(
        "--merge", action="store_true", help=f"also write the adapter merged into its base to RUN_DIR/{MERGED_DIR}"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
