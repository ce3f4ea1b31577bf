"""`modelport hosting`, `deploy`, `endpoints`, `describe`, `invoke`, `delete`, `logs`: the local SageMaker."""
