"""modelport's test suite: folders mirror src/modelport/ (see docs/architecture.md, "Tests")."""
