"""Evaluation: metrics (WAR/UAR, P/R/F1, confusion matrices, MIG) and predictions."""
