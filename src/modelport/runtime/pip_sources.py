"""Check that a requirements.txt names only allowed package sources (``MODELPORT_PIP_INDEX_URLS``).

With an allow-list, every URL a requirements file can make pip reach — ``--index-url`` /
``--extra-index-url`` / ``--find-links`` values, ``--trusted-host`` hosts, direct references
(``name @ URL``, a bare URL or an absolute path, ``-e``) — must be one of the allowed URLs or below
one. Nested files (``-r``, ``-c``), relative paths and ``${VAR}`` references are refused, since what
they expand to is not in the file being checked. Without an allow-list nothing is checked.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from modelport.runtime.errors import StartupError

_SOURCE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}
_HOST_OPTIONS = {"--trusted-host"}
_EDITABLE_OPTIONS = {"-e", "--editable"}
_NESTED_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def parse_allowed(text: str) -> list[str]:
    """``MODELPORT_PIP_INDEX_URLS`` → its URLs (comma- or space-separated), in order."""
    return [url for url in re.split(r"[,\s]+", text.strip()) if url]


def check_sources(requirements: Path, allowed: list[str]) -> None:
    """Raise StartupError naming the first line that reaches a source outside ``allowed``."""
    problems = [
        f"line {number}: {problem}"
        for number, line in _logical_lines(requirements.read_text(errors="replace"))
        if (problem := line_problem(line, allowed))
    ]
    if problems:
        raise StartupError(
            f"{requirements} names package sources that are not allowed (MODELPORT_PIP_INDEX_URLS = "
            f"{' '.join(allowed)}):\n  " + "\n  ".join(problems[:10])
            + "\nRemove these lines (pip uses the allowed indexes), or ask the operator to allow the source."
        )


def line_problem(line: str, allowed: list[str]) -> str | None:
    """What is not allowed in one logical requirements line, or None."""
    if "${" in line:
        return f"{line!r} refers to an environment variable (refused with an allow-list)"
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        return f"{line!r} cannot be parsed: {exc}"
    if not tokens:
        return None
    if tokens[0].startswith("-"):
        return _option_problem(tokens, allowed)
    requirement, _, _ = line.partition(" --")  # per-requirement options such as --hash follow
    return _requirement_problem(requirement.strip(), allowed)


def _option_problem(tokens: list[str], allowed: list[str]) -> str | None:
    name, _, value = tokens[0].partition("=")
    if not value and name.startswith("-") and not name.startswith("--") and len(name) > 2:
        name, value = name[:2], name[2:]  # -ihttps://… as pip accepts it
    if not value and len(tokens) > 1:
        value = tokens[1]
    if name in _NESTED_OPTIONS:
        return f"{name} {value} includes another file (refused with an allow-list)"
    if name in _SOURCE_OPTIONS:
        return None if _is_allowed(value, allowed) else f"{name} {value} is not an allowed index"
    if name in _HOST_OPTIONS:
        hosts = {urlsplit(url).netloc.lower() for url in allowed} | {urlsplit(url).hostname or "" for url in allowed}
        return None if value.lower() in hosts else f"{name} {value} is not the host of an allowed index"
    if name in _EDITABLE_OPTIONS:
        return _reference_problem(value, allowed)
    return None


def _requirement_problem(text: str, allowed: list[str]) -> str | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return _reference_problem(text.split(";")[0].strip(), allowed)  # a bare URL or path, as pip reads it
    if requirement.url is None:
        return None
    return _reference_problem(requirement.url, allowed)


def _reference_problem(reference: str, allowed: list[str]) -> str | None:
    if not _SCHEME.match(reference) and not Path(reference).is_absolute():
        return f"{reference} is a relative path (refused with an allow-list; give a URL under an allowed index)"
    return None if _is_allowed(reference, allowed) else f"{reference} is not under an allowed index"


def _is_allowed(reference: str, allowed: list[str]) -> bool:
    """Whether a URL or absolute path is one of ``allowed`` or below one (after resolving ``..``)."""
    if not _SCHEME.match(reference):
        if not Path(reference).is_absolute():
            return False
        reference = Path(reference).as_uri()
    target = urlsplit(reference)
    for url in allowed:
        base = urlsplit(url)
        if (target.scheme.lower(), target.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
            continue
        prefix = _clean_path(base.path)
        path = _clean_path(target.path)
        if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def _clean_path(path: str) -> str:
    return posixpath.normpath("/" + unquote(path))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each requirement line: continuations joined, comments removed."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            lines.append((start, line))
    if pending.strip():
        lines.append((start, _COMMENT.sub("", pending).strip()))
    return lines
