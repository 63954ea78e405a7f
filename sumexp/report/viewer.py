"""The data behind report.html's dialogue viewer: every run's summary of each dev dialogue, most disputed first."""

from __future__ import annotations

import math

from sumexp.report.dialogues import DialogueSource
from sumexp.report.examples import SCORE_COLUMNS
from sumexp.run import record as run_record


def viewer_data(runs: list[dict], labels: dict[str, str], source: DialogueSource | None = None) -> dict:
    """{runs: [...], dialogues: [...]}: dialogues ordered by the spread of per-example ROUGE mean across runs."""
    source = source or DialogueSource()
    shown = [r for r in runs if r["status"] == run_record.COMPLETED and r.get("examples") is not None]
    dialogues: dict[tuple[str, str], dict] = {}
    for index, run in enumerate(shown):
        texts = source.for_run(run.get("config"))
        examples = run["examples"]
        for row, fname in enumerate(examples.fnames):
            entry = dialogues.setdefault(
                (examples.fingerprint, fname),
                {
                    "fname": fname,
                    "dev_set": examples.fingerprint,
                    "dialogue": texts.get(fname),
                    "references": examples.references[row],
                    "outputs": [],
                },
            )
            entry["dialogue"] = entry["dialogue"] or texts.get(fname)
            entry["outputs"].append([index, examples.predictions[row], *_scores(examples, row)])
    for entry in dialogues.values():
        means = [output[-1] for output in entry["outputs"] if output[-1] is not None]
        entry["spread"] = max(means) - min(means) if len(means) > 1 else 0.0
    ordered = sorted(dialogues.values(), key=lambda d: -d["spread"])  # stable: dev order among equals
    return {
        "runs": [
            {
                "run": r["run"],
                "model": r["model"],
                "backend": labels[r["run"]],
                "label": f"{r['run']} ({labels[r['run']]})",
            }
            for r in shown
        ],
        "dialogues": ordered,
        "notes": source.notes,
    }


def _scores(examples, row: int) -> list:
    """ROUGE-1, -2, -L and their mean for one example (0-100), or Nones when the file has none."""
    if examples.scores is None:
        return [None] * len(SCORE_COLUMNS)
    values = [float(examples.scores[name][row]) for name in SCORE_COLUMNS]
    return [None if math.isnan(v) else v for v in values]
