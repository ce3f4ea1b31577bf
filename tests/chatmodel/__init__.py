"""Tests of modelport.chatmodel: training the bundled demo chat model."""
