"""ferflow: a reproducible pipeline for facial expression recognition (IFDD and DICE-FER)."""

__version__ = "0.1.0"
