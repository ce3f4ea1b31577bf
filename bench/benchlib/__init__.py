"""Helpers for bench/run.py: server specs, processes, load generation, correctness, reports."""
