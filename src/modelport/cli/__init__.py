"""The ``modelport`` command line: thin wrappers that call the parts."""
