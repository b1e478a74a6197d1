"""Data stages: the embedded benchmark, dataset adapters, frames, alignment and torch datasets."""
