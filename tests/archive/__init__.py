"""Tests of modelport.archive: pack, check, safe unpack."""
