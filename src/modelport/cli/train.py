"""`modelport data` and `modelport train`: fetch the public data sets and train the bundled models."""
