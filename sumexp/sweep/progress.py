"""The sweep's lines on the terminal: a header, then one line when a job starts and one when it ends."""

from __future__ import annotations

from sumexp.run import record as run_record


class Progress:
    """Counts jobs across the batches of one sweep; `total` is the number planned so far."""

    def __init__(self, total: int):
        self.total = total

    def say(self, text: str) -> None:
        print(f"sumexp: {text}", flush=True)

    def started(self, job) -> None:
        self.say(f"[{job.number}/{self.total}] {job.run_dir.name}: started")

    def finished(self, job, outcome: str, metrics: dict, seconds: float | None = None) -> None:
        score = metrics.get("dev_rouge_mean")
        detail = f", dev ROUGE mean {score:.2f}" if isinstance(score, (int, float)) else ""
        if metrics.get("error") and metrics.get("status") != run_record.COMPLETED:
            detail += f": {metrics['error']}"
        if seconds is not None:  # the record's own time when it has one, so that the sweep's summary agrees
            seconds = metrics.get("run_seconds", seconds)
        took = f" in {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
        self.say(f"[{job.number}/{self.total}] {job.run_dir.name}: {outcome}{took}{detail}")
        fallback = fallback_line(metrics)
        if fallback:  # the job's own warning went to its stdout.log; the sweep's terminal says it too
            self.say(f"[{job.number}/{self.total}] {job.run_dir.name}: warning: {fallback}")


def fallback_line(metrics: dict) -> str | None:
    """`backend unsloth ran as qlora: why`, when the backend that ran is not the one asked for."""
    requested, effective = metrics.get("backend_requested"), metrics.get("backend_effective")
    if not requested or not effective or requested == effective:
        return None
    return f"backend {requested} ran as {effective}: {metrics.get('backend_note') or 'no reason recorded'}"
