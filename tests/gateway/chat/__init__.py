"""Tests of the gateway's chat side: requests, streaming, providers, end to end."""
