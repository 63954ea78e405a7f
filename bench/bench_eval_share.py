"""The whole run's evaluation cost: the share of a run's wall time spent in dev evaluation.

Run: python bench/bench_eval_share.py [--epochs N] [--quick]

Runs `python -m sumexp` with evaluation on (every epoch and once before training, the defaults) and
reads metrics.json: eval_seconds (dev loss, generation and ROUGE at every evaluation) against
run_seconds (the task, from loading the data to the last prediction) and the process's wall
time. Two runs: the embedded default (tiny_bart on the shipped sample, 50 dev dialogues) and,
when ../shared/data is present, tiny_bart on the Korean dev set (80% trains, 100 dialogues score).
The final dev metrics reuse the best evaluation's summaries; the row "with a final pass" adds one
mean evaluation to both times: what the same run cost when the best weights were evaluated again
after training (an estimate from this run, not a separate measurement).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import KO_DEV, header, parser, run_sumexp, table  # noqa: E402


def runs(epochs: int, quick: bool) -> dict[str, list[str]]:
    """{label: overrides}: the default run and, with the shared data, the Korean one."""
    common = [f"optim.epochs={epochs}", "cache_dir=null"]
    if quick:
        common += [
            "data.max_train_samples=16",
            "data.max_eval_samples=4",
            "generation.num_beams=1",
            "generation.max_new_tokens=4",
            "score.tokenizer=whitespace",
        ]
    chosen = {"sample": common}
    if KO_DEV.is_file() and not quick:
        chosen["dialogsum-ko dev.csv"] = common + [
            "data=dialogsum_ko",
            f"data.dir={KO_DEV.parent}",
            "data.test_file=null",
        ]
    return chosen


def evaluations(run_dir: Path) -> int:
    """How many dev evaluations the run made (one log entry each)."""
    lines = (run_dir / "train_log.jsonl").read_text(encoding="utf-8").splitlines()
    return sum(1 for line in lines if "eval_rouge_mean" in json.loads(line))


def main() -> int:
    p = parser(__doc__, repeat=1)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    epochs = 1 if args.quick else args.epochs
    header("The whole run's evaluation cost", args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as tmp:
        for i, (label, overrides) in enumerate(runs(epochs, args.quick).items()):
            run_dir = Path(tmp) / f"run{i}"
            wall, metrics = run_sumexp(run_dir, *overrides)
            sizes = metrics["data"]
            label = f"{label} ({sizes['train']['rows']} train / {sizes['dev']['rows']} dev)"
            rows += share_rows(label, wall, metrics, evaluations(run_dir))
    decoding = "greedy, 4 new tokens" if args.quick else "beam 4 (the default)"
    print(f"tiny_bart, {epochs} epochs, dev decoding {decoding}, one run each; seconds of wall time")
    table(
        ["run", "evaluations", "eval s", "run s", "eval share of run", "process wall s", "eval share of process"], rows
    )
    return 0


def share_rows(label: str, wall: float, metrics: dict, count: int) -> list[list]:
    """This run's shares, and the same with one more (mean) evaluation: the final pass now removed."""
    ev, run = metrics["eval_seconds"], metrics["run_seconds"]
    extra = ev / count if count else 0.0
    return [
        [label, count, ev, run, f"{ev / run:.1%}", wall, f"{ev / wall:.1%}"],
        [
            f"{label}, with a final pass (estimate)",
            count + 1,
            ev + extra,
            run + extra,
            f"{(ev + extra) / (run + extra):.1%}",
            wall + extra,
            f"{(ev + extra) / (wall + extra):.1%}",
        ],
    ]


if __name__ == "__main__":
    sys.exit(main())
