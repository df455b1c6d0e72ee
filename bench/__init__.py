"""Benchmarks: each compares our code with a baseline measured side by side in the same run."""
