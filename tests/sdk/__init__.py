"""Tests that run the unmodified SageMaker SDK lines against hosting (scripts and locks beside them)."""
