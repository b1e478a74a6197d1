"""Training loops, schedules, checkpoints and logging."""
