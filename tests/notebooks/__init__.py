"""Tests that execute notebooks/."""
