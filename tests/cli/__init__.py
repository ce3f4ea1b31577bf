"""Tests of modelport.cli commands that have no part of their own."""
