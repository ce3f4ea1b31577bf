"""Helpers, as ``sagemaker_inference.utils``."""

from modelport.runtime.content_types import parse_accept as _parse


def read_file(path, mode="r"):
    """Read a whole file."""
    with open(path, mode) as f:
        return f.read()


def write_file(path, data, mode="w"):
    """Write a whole file."""
    with open(path, mode) as f:
        f.write(data)


def parse_accept(accept):
    """The media types of an Accept header, in order."""
    return _parse(accept)


def remove_crlf(illegal_string):
    """Drop CR and LF characters (used for HTTP reason phrases)."""
    return illegal_string.replace("\r", "").replace("\n", "")
