"""Tests of modelport.gateway: HTTP, Lambda, runtime clients, errors."""
