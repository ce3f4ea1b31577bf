"""Tests of the bundled models' inference scripts and preprocessing."""
