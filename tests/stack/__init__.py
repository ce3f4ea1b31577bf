"""Tests of modelport.stack: `modelport up` / `down`."""
