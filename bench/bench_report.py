"""The report's own cost: `python -m sumexp.report` on a fabricated 24-run grid with 500 dev examples each.

Run: python bench/bench_report.py [--repeat N] [--quick]

Fabricates run folders as a sweep leaves them (metrics.json, .hydra/config.yaml whose data points at a
500-row dev CSV, dev_predictions.csv with per-example ROUGE): 3 models x 4 backends x 2 seeds. Times the
whole command in a fresh process (imports, reading the runs and the dialogues, 10,000-resample paired
bootstraps and 20,000-flip sign-flip tests per Δ, the plot, report.html), best of N. Target: under 10 s.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import PYTHON, fail, header, parser, run_process, table  # noqa: E402
from sumexp.score.bootstrap import DELTA_RESAMPLES, FLIPS  # noqa: E402

TARGET_S = 10.0
MODELS = ("tiny_bart", "tiny_t5", "tiny_llama")
BACKENDS = ("full", "lora", "qlora", "unsloth")
SEEDS = (1, 2)
WORDS = "오늘 회의 예약 시간 친구 저녁 전화 주문 배송 여행 가격 병원 학교 숙제 날씨".split()


def fabricate(root: Path, examples: int, models=MODELS, backends=BACKENDS, seeds=SEEDS) -> Path:
    """A sweep folder of len(models) x len(backends) x len(seeds) completed runs on one dev set; returns it."""
    import numpy as np
    import pandas as pd
    import yaml

    rng = np.random.default_rng(0)
    data = root / "data"
    data.mkdir(parents=True)
    fnames = [f"dev_{i}" for i in range(examples)]
    references = [_text(rng, 12) for _ in fnames]
    pd.DataFrame({"fname": fnames, "dialogue": [_text(rng, 60) for _ in fnames], "summary": references}).to_csv(
        data / "dev.csv", index=False
    )
    pd.DataFrame({"fname": ["t0", "t1"], "dialogue": ["가 나", "다 라"], "summary": ["가", "다"]}).to_csv(
        data / "train.csv", index=False
    )
    sweep = root / "sweep"
    jobs = [(m, b, s) for m in models for b in backends for s in seeds]
    for number, (model, backend, seed) in enumerate(jobs):
        run = sweep / f"{number}_{model}_{backend}"
        (run / ".hydra").mkdir(parents=True)
        scores = np.clip(rng.normal(30 + 2 * BACKENDS.index(backend), 12, size=examples), 0, 100)
        frame = pd.DataFrame(
            {
                "fname": fnames,
                "prediction": [_text(rng, 12) for _ in fnames],
                "summary": references,
                "rouge1": scores + 5,
                "rouge2": scores - 10,
                "rougeL": scores + 5,
                "rouge_mean": scores,
            }
        )
        frame.to_csv(run / "dev_predictions.csv", index=False)
        config = {
            "model": {"name": model},
            "backend": {"name": backend},
            "seed": seed,
            "optim": {"lr": 1e-3},
            "data": {"name": "csv", "source": "files", "dir": str(data), "test_file": None},
        }
        (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        (run / "metrics.json").write_text(json.dumps(_metrics(model, backend, seed, scores, run)), encoding="utf-8")
    return sweep


def _metrics(model: str, backend: str, seed: int, scores, run: Path) -> dict:
    mean = float(scores.mean())
    return {
        "status": "completed",
        "model": model,
        "backend_requested": backend,
        "backend_effective": "qlora" if backend == "unsloth" else backend,
        "device": "cpu",
        "family": "causal" if model == "tiny_llama" else "seq2seq",
        "seed": seed,
        "dev_rouge1": mean + 5,
        "dev_rouge2": mean - 10,
        "dev_rougeL": mean + 5,
        "dev_rouge_mean": mean,
        "dev_rouge_mean_ci95": [mean - 1, mean + 1],
        "memory_model_state_bytes": 4e6 / (1 + BACKENDS.index(backend)),
        "memory_train_peak_mb": None,
        "train_trained_tokens_per_second": 100.0 + 10 * seed,
        "train_load_average": 1.0,
        "cpu_count": 2,
        "train_runtime_s": 30.0,
        "params_trainable": 1000,
        "params_total": 5000,
        "params_trainable_ratio": 0.2,
        "run_dir": str(run),
    }


def _text(rng, words: int) -> str:
    return " ".join(rng.choice(WORDS, size=words))


def main() -> int:
    args = parser(__doc__, repeat=3).parse_args()
    repeat, examples = (1, 20) if args.quick else (args.repeat, 500)
    header("Report", args)
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as tmp:
        models, seeds = (MODELS[:1], SEEDS) if args.quick else (MODELS, SEEDS)
        sweep = fabricate(Path(tmp), examples, models=models, seeds=seeds)
        runs = len(list(sweep.iterdir()))
        best = min(run_process([PYTHON, "-m", "sumexp.report", str(sweep)])[0] for _ in range(repeat))
        import pandas as pd

        written = pd.read_csv(sweep / "report.csv")
        if len(written) != runs:
            return fail(f"report.csv does not have one row per run ({runs})")
        compared = int(written["delta_p_holm"].notna().sum())  # every run but the full ones: a Δ and its p-value
        if compared != runs - len(models) * len(seeds):
            return fail(f"report.csv has {compared} Δs with an adjusted p-value, not {runs - len(models) * len(seeds)}")
        page = (sweep / "report.html").read_text(encoding="utf-8")
        if page.count('"fname": "dev_') != examples:
            return fail(f"report.html's viewer does not hold all {examples} dev dialogues")
    print(f"best of {repeat} fresh processes; seconds of wall time")
    table(
        ["runs", "dev examples", "Δs", "bootstrap resamples", "sign flips", "report s", "target"],
        [[runs, examples, compared, DELTA_RESAMPLES, FLIPS, best, f"< {TARGET_S:.0f} s"]],
    )
    print(
        f"report of {runs} runs x {examples} examples: {best:.2f} s (target < {TARGET_S:.0f} s): "
        f"{'met' if best < TARGET_S else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
