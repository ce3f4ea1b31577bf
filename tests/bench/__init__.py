"""Tests that run bench/ tools as part of the suite (the short soak)."""
