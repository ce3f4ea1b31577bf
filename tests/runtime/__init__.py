"""Tests of modelport.runtime: the model server and its SageMaker compatibility."""
