"""Tests of modelport.training: data sets, trainers, `modelport train`."""
