"""What the tests share, so that no test module imports another: repo (paths, the tiny models), cli (the CLI in a
subprocess, its one-line errors, the quick run arguments), runs (run folders: fabricated, made, started, read),
inputs (the broken-input cases), security (fake credentials), skips, hub_models (hub-shaped checkpoints) and
fault_runner (`python -m tests.support.fault_runner`: the CLI stopped at a named point)."""
