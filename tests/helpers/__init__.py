"""Shared test helpers, imported explicitly (``from tests.helpers.runtime import ModelServer``)."""
