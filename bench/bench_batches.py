"""Training batches: padding and step time without and with length-grouped batches (optim.group_by_length).

Run: python bench/bench_batches.py [--repeat N] [--quick]

Training data: the 499 dialogues of ../shared/data/dialogsum-ko/dev.csv (the shipped sample when
absent), tiny_bart with sources up to 512 tokens, batch 16, one epoch, evaluation off. The
padding fraction is counted over one epoch of the very Trainer sumexp builds (its own
training_arguments and build_trainer, in this process): padding tokens over all tokens of the
padded batches, sources and labels. The step time comes from full runs of `python -m sumexp`
with optim.group_by_length=false and =true, in turns, best of N: metrics.json train_step_time_s
(optimizer steps only) over train_steps. Both runs must train the same number of real tokens.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import KO_DEV, best_of_alternating, fail, header, parser, run_sumexp, table  # noqa: E402


def data_overrides(quick: bool) -> tuple[list[str], str]:
    """(overrides choosing the model and data, what the data is)."""
    model = [
        "model=tiny_bart",
        "model.max_source_length=512",
        "optim.batch_size=16" if not quick else "optim.batch_size=8",
    ]
    if KO_DEV.is_file():
        data = [
            "data=csv",
            f"data.dir={KO_DEV.parent}",
            "data.train_file=dev.csv",
            "data.dev_file=dev.csv",
            "data.test_file=null",
        ]
        source = f"{KO_DEV} as training data"
    else:
        data = ["data=sample", "data.test_file=null"]
        source = f"sumexp's sample ({KO_DEV} not found)"
    if quick:
        data.append("data.max_train_samples=32")
    return model + data + ["data.max_eval_samples=8", "cache_dir=null"], source


def padding_fractions(overrides: list[str]) -> dict[bool, tuple[float, float]]:
    """{group_by_length: (source padding, label padding)} over one epoch of sumexp's train dataloader."""
    from hydra import compose, initialize_config_dir

    from sumexp.data.splits import load_splits
    from sumexp.features import Encoder
    from sumexp.features_cache import encode_splits
    from sumexp.models.loading import load_model, load_model_config, load_tokenizer
    from sumexp.package_data import CONF_DIR
    from sumexp.schema import register_configs
    from sumexp.training.trainer import build_trainer, training_arguments

    register_configs()  # the run schema conf/config.yaml names; python -m sumexp registers it on import
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    splits = load_splits(cfg.data, cfg.seed)
    texts = splits.train.dialogues + [r for refs in splits.train.references for r in refs]
    tokenizer = load_tokenizer(cfg.model, texts)
    model_config = load_model_config(cfg.model, tokenizer)
    model = load_model(cfg.model, tokenizer, model_config)
    encoded = encode_splits(Encoder.from_config(cfg.model, tokenizer, True), splits, None)
    fractions = {}
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as tmp:
        for grouped in (False, True):
            cfg.optim.group_by_length = grouped
            args = training_arguments(cfg, tmp, "fp32", cfg.model.learning_rate)
            trainer = build_trainer(cfg, model, tokenizer, encoded.train, encoded.dev, None, args)
            fractions[grouped] = epoch_padding(trainer.get_train_dataloader())
    return fractions


def epoch_padding(loader) -> tuple[float, float]:
    """Share of padding among source tokens and among label positions, one pass over the loader."""
    real_src = all_src = real_lab = all_lab = 0
    for batch in loader:
        real_src += int(batch["attention_mask"].sum())
        all_src += batch["attention_mask"].numel()
        real_lab += int((batch["labels"] != -100).sum())
        all_lab += batch["labels"].numel()
    return 1 - real_src / all_src, 1 - real_lab / all_lab


def main() -> int:
    args = parser(__doc__, repeat=3).parse_args()
    repeat = 1 if args.quick else args.repeat
    header("Training batches: length grouping", args)
    overrides, source = data_overrides(args.quick)
    fractions = padding_fractions(overrides)
    run = ["optim.evaluate=false", "optim.epochs=1", "generation.num_beams=1", "score.tokenizer=whitespace"]
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as name:
        counter = iter(range(10**6))

        def train(grouped: bool):
            run_dir = Path(name) / f"run{next(counter)}"
            _, metrics = run_sumexp(run_dir, *overrides, *run, f"optim.group_by_length={str(grouped).lower()}")
            return metrics["train_step_time_s"] / metrics["train_steps"], metrics

        best = best_of_alternating({False: lambda: train(False), True: lambda: train(True)}, repeat)
    print(
        f"{source}; tiny_bart, sources up to 512 tokens, {best[True][1]['train_steps']} steps of batch "
        f"{best[True][1]['train_batch_size']} (one epoch); best of {repeat}, in turns"
    )
    return report(fractions, best)


def report(fractions: dict, best: dict) -> int:
    rows = []
    for grouped, label in ((False, "random batches"), (True, "length-grouped batches")):
        step, metrics = best[grouped]
        gain = best[False][0] / step
        rows.append(
            [
                label,
                f"{fractions[grouped][0]:.1%}",
                f"{fractions[grouped][1]:.1%}",
                step,
                f"{metrics['train_tokens_per_second']:.0f}",
                f"{gain:.2f}x",
            ]
        )
    table(["training batches", "source padding", "label padding", "step s", "real tokens/s", "step speed-up"], rows)
    if best[False][1]["train_tokens"] != best[True][1]["train_tokens"]:
        return fail(
            f"the two runs trained different real tokens: {best[False][1]['train_tokens']} "
            f"vs {best[True][1]['train_tokens']}; an epoch must see every example once either way"
        )
    print(f"real tokens trained: {best[True][1]['train_tokens']} in both runs (one epoch each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
