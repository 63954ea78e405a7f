"""What a run may execute and what it may write: remote code, pickle weights, secrets, paths."""
