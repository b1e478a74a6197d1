"""Evaluation: metrics (WAR/UAR, P/R/F1, confusion matrices, MIG; below train in `ferflow.layers`), scoring of
trained models, statistics over the study."""
