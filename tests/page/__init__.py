"""Tests of the web page (page/): browser runs and golden screenshots."""
