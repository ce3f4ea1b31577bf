"""`modelport gateway`: the public HTTP API (the same app that runs in AWS Lambda)."""
