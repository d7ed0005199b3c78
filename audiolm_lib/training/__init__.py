"""Training: datasets of tokens, the stage and codec trainers, checkpoints, distributed runs."""
