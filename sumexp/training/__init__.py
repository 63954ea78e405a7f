"""Training: the Trainer that scores dev ROUGE at each evaluation, its arguments and precision."""
