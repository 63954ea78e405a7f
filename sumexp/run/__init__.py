"""The run-time services below the task: a run folder's record (metrics.json), rules, lock and listing, the
console, distributed setup, lineage and a full disk."""
