"""What the tests share, so that no test module imports another: repo (paths, tiny models), cli (the CLI in a
subprocess and its quick run arguments), runs (run folders: made, started, read), inputs (the broken-input cases),
skips, hub_models (hub-shaped checkpoints) and fault_runner (the CLI stopped at a named point)."""
