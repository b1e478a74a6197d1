"""Benchmarks: throughput of the pipeline's stages, measured and written to JSON."""
