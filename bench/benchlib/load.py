"""Drive one server with wrk (one thread, loopback) and read the Lua script's JSON summary."""
from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent.parent / "wrk" / "post.lua"


@dataclass
class Point:
    """One measured load point."""

    concurrency: int
    seconds: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int  # connect + read + write + timeouts

    @property
    def errors(self) -> int:
        """Non-2xx responses plus socket errors."""
        return self.non2xx + self.socket_errors

    def as_dict(self) -> dict:
        """JSON-ready form, with the error total."""
        return {**asdict(self), "errors": self.errors}


def wrk_command(url: str, body_file: Path, content_type: str, concurrency: int, seconds: float,
                authorization: str = "", headers: dict[str, str] | None = None) -> list[str]:
    """The exact wrk command line for one point (``authorization``: an Authorization header, e.g. for hosting;
    ``headers``: more request headers, e.g. Triton's Inference-Header-Content-Length)."""
    extra = [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "--timeout", "5s",
            "-s", str(LUA), url, "--", str(body_file), content_type,
            *([authorization] if authorization or extra else []), *extra]


def run_wrk(url: str, body_file: Path, content_type: str, concurrency: int, seconds: float,
            authorization: str = "", headers: dict[str, str] | None = None) -> Point:
    """Run wrk once and return the measured point; RuntimeError when wrk fails."""
    command = wrk_command(url, body_file, content_type, concurrency, seconds, authorization, headers)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    raw = json.loads(line[len("WRK_JSON "):])
    duration_s = raw["duration_us"] / 1e6
    return Point(
        concurrency=concurrency,
        seconds=round(duration_s, 3),
        requests=raw["requests"],
        requests_per_s=round(raw["requests"] / duration_s, 1) if duration_s else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["latency_max_us"] / 1000,
        non2xx=raw["non2xx"],
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
    )


def wrk_version() -> str:
    """wrk's version line."""
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "unknown"
