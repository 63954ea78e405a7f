"""The data a run reads: train/dev/test splits from the embedded sample, CSV/JSONL files or datasets."""
