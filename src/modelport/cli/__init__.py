"""The ``modelport`` command line: thin wrappers that call the parts.

``main.py`` builds the command and registers every command and group in one table; each other
module defines the functions of its commands (and no module imports ``main``).
"""
