"""Shared test set-up: nothing may reach a model hub, and plots never need a display."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
