"""Tests of modelport.hosting: control and runtime APIs, S3, auth, faults, CLI."""
