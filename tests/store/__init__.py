"""Tests of modelport.store: file:// and s3:// artifacts."""
