"""Preprocessing: the encode step of a first run against a second run of the same model over the same data.

Run: python bench/bench_cache.py [--repeat N] [--copies N] [--quick]

sumexp tokenizes the splits in batches and caches the encoded splits by content hash (the texts,
the tokenizer, the encoding settings and the encoding code) under cache_dir, so the other jobs of
a sweep over the same model load them instead. Each repetition runs `python -m sumexp train=false`
twice on a fresh cache_dir, then once with cache_dir=null; metrics.json gives encode_seconds and
encode_cache (miss, hit, off). The data: ../shared/data/dialogsum-ko/dev.csv repeated --copies
times with new fnames (25 copies: 12,475 rows, the size of the competition's train.csv), or the
shipped sample when absent; dev is capped at 8 rows and there is no test split, so that generation
stays short. train=false skips training, which the cache does not touch. Best of N.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import KO_DEV, header, parser, run_sumexp, table  # noqa: E402


def write_data(folder: Path, copies: int) -> str:
    """train.csv and dev.csv in folder; says where the rows came from."""
    import pandas as pd

    from sumexp.data.sample import make_sample_splits

    folder.mkdir(parents=True)
    if KO_DEV.is_file():
        dev = pd.read_csv(KO_DEV)
        source = f"{KO_DEV} x{copies}"
    else:
        dev = make_sample_splits()["train"]
        source = f"sumexp's sample x{copies} ({KO_DEV} not found)"
    train = pd.concat([dev.assign(fname=dev["fname"] + f"_copy{i}") for i in range(copies)], ignore_index=True)
    train.to_csv(folder / "train.csv", index=False)
    dev.to_csv(folder / "dev.csv", index=False)
    return f"{len(train)} train rows from {source}"


def overrides(data: Path, cache_dir: str) -> list[str]:
    return [
        "train=false",
        "data=csv",
        f"data.dir={data}",
        "data.test_file=null",
        "data.max_eval_samples=8",
        "generation.num_beams=1",
        "generation.max_new_tokens=8",
        "score.tokenizer=whitespace",
        f"cache_dir={cache_dir}",
    ]


def measure(tmp: Path, data: Path, i: int) -> dict[str, tuple[float, float]]:
    """{cache state: (encode seconds, process wall seconds)} for a first run, a second one and no cache."""
    cache = tmp / f"cache{i}"
    out = {}
    for label, cache_dir in (("first run", cache), ("second run", cache), ("no cache", "null")):
        wall, metrics = run_sumexp(tmp / f"run{i}_{label.replace(' ', '_')}", *overrides(data, str(cache_dir)))
        expected = {"first run": "miss", "second run": "hit", "no cache": "off"}[label]
        if metrics["encode_cache"] != expected:
            raise SystemExit(f"ERROR: {label}: encode_cache is {metrics['encode_cache']}, expected {expected}")
        out[label] = (metrics["encode_seconds"], wall)
    return out


def main() -> int:
    p = parser(__doc__, repeat=3)
    p.add_argument("--copies", type=int, default=25)
    args = p.parse_args()
    repeat, copies = (1, 1) if args.quick else (args.repeat, args.copies)
    header("Preprocessing: the encoded-split cache", args)
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as name:
        tmp = Path(name)
        described = write_data(tmp / "data", copies)
        best: dict[str, tuple[float, float]] = {}
        for i in range(repeat):
            for label, (encode, wall) in measure(tmp, tmp / "data", i).items():
                previous = best.get(label, (float("inf"), float("inf")))
                best[label] = (min(previous[0], encode), min(previous[1], wall))
    first = best["first run"][0]
    print(f"{described}; tiny_bart, train=false; best of {repeat}")
    table(
        ["run", "encode_cache", "encode s", "speed-up", "process wall s"],
        [
            [label, state, best[label][0], f"{first / best[label][0]:.1f}x", best[label][1]]
            for label, state in (("first run", "miss"), ("second run", "hit"), ("no cache", "off"))
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
