"""Hosting's access token: the one secret every client of modelport hosting presents.

Hosting takes it from ``MODELPORT_HOSTING_TOKEN`` when that is set, else from
``MODELPORT_HOME/hosting/token``, which the first caller creates (random, mode 0600). Hosting and its
clients (the CLI, ``modelport.sdk``, ``modelport up``, notebooks, bench tools) all read it here, so
clients present what hosting expects without the user doing anything. This module is neutral on
purpose: it imports nothing of hosting, so the gateway may read it too. The variable is read through
``modelport.settings`` (imported late: that module takes ``TOKEN_ENV`` from here).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "MODELPORT_HOSTING_TOKEN"
# It travels as a SigV4 access key id (``Credential=<token>/date/...``), so no '/', ',', '=' or spaces.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,256}")
TOKEN_RULE = "16 to 256 characters: letters, digits, '.', '_', '~' and '-'"


class TokenError(ValueError):
    """The configured token is unusable; the message says where it came from and what is accepted."""


@dataclass(frozen=True)
class HostingToken:
    """The token, whether it was set explicitly (``MODELPORT_HOSTING_TOKEN``), and where it came from."""

    value: str
    explicit: bool
    source: str


def token_file(home: Path) -> Path:
    """Where the generated token lives under ``home`` (MODELPORT_HOME)."""
    return Path(home) / "hosting" / "token"


def _home(home: Path | None) -> Path:
    if home is not None:
        return Path(home)
    from modelport.settings import HomeSetting

    return HomeSetting().home


def _explicit() -> str:
    """``MODELPORT_HOSTING_TOKEN`` as set (trimmed); empty when it is not."""
    from modelport.settings import HostingTokenSetting

    return HostingTokenSetting().hosting_token.strip()


def _checked(value: str, source: str) -> str:
    if not TOKEN_PATTERN.fullmatch(value):
        raise TokenError(f"the hosting token from {source} is not valid: it must be {TOKEN_RULE}.")
    return value


def _create(path: Path) -> None:
    """Write a new random token to ``path`` unless one exists (atomically: readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".token-{os.getpid()}-{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(temporary, path)  # fails if another process created it first; theirs wins
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def given(value: str, source: str) -> HostingToken:
    """A token handed over explicitly (e.g. by a test or an embedding program), checked like the others."""
    return HostingToken(_checked(value, source), True, source)


def load(home: Path | None = None, create: bool = True) -> HostingToken:
    """The token: ``MODELPORT_HOSTING_TOKEN`` when set, else the token file under ``home``.

    ``home`` defaults to MODELPORT_HOME. The file is created when missing (``create``); a file that
    others could read is made private again. Raises :class:`TokenError` for an unusable token, and
    ``FileNotFoundError`` when there is no file and ``create`` is false.
    """
    explicit = _explicit()
    if explicit:
        return HostingToken(_checked(explicit, TOKEN_ENV), True, TOKEN_ENV)
    path = token_file(_home(home))
    if create and not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return HostingToken(_checked(path.read_text().strip(), str(path)), False, str(path))


def hosting_token(home: Path | None = None) -> str:
    """The token a client presents to the hosting that keeps its state in ``home`` (default MODELPORT_HOME)."""
    return load(home).value


def rotate(home: Path | None = None) -> str:
    """Replace the token file under ``home`` with a new random token; return it.

    A running hosting keeps the token it started with until it restarts. Raises :class:`TokenError`
    when ``MODELPORT_HOSTING_TOKEN`` is set (that token is changed where it is set).
    """
    if _explicit():
        raise TokenError(f"{TOKEN_ENV} is set, so hosting uses it and not the token file; change it where it is set.")
    path = token_file(_home(home))
    path.unlink(missing_ok=True)
    _create(path)
    return load(home).value
