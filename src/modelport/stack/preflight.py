"""Check the machine before starting: free ports, disk space, the page's build."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

MIN_FREE_BYTES = 1 * 1024**3


@dataclass
class Preflight:
    """Problems that stop ``up`` and notes that do not."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops the start."""
        return not self.problems


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check(addresses: dict[str, tuple[str, int]], home: Path, page_dir: Path) -> Preflight:
    """Check the (host, port) of each service, disk space under ``home`` and whether the page is built."""
    result = Preflight()
    for what, (host, port) in addresses.items():
        if not port_is_free(host, port):
            flag = "--port" if what == "gateway" else "--hosting-port"
            result.problems.append(
                f"port {port} on {host} ({what}) is already in use: stop what holds it "
                f"(`modelport down` if it is an earlier stack) or choose another with {flag}."
            )
    home.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(home).free
    if free < MIN_FREE_BYTES:
        result.problems.append(
            f"only {free / 1024**2:.0f} MB free under {home.resolve()}; modelport needs about 1 GB for data "
            "sets, models and logs. Free some space or set MODELPORT_HOME to a bigger disk."
        )
    if not (page_dir / "index.html").is_file():
        how = "`npm --prefix page ci && npm --prefix page run build` (or `make run`)"
        if shutil.which("npm") is None:
            how = "install Node.js 20 and npm (Debian: `apt-get install nodejs npm`), then " + how
        result.notes.append(f"the web page is not built ({page_dir} has no index.html): the API still runs. Build it with {how}.")
    return result
