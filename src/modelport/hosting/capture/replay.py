"""Replay: every captured request sent again to a candidate — an archive served as ``modelport serve`` serves
it, or an endpoint of hosting —, its answers compared with the captured ones (:mod:`.agreement`), with latency
percentiles and errors. The request goes with its captured content type, and asks (``Accept``) for the captured
answer's.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from modelport.hosting.capture.agreement import ABS_TOLERANCE, REL_TOLERANCE, answers_agree
from modelport.hosting.capture.reader import Captured
from modelport.hosting.capture.report import EXAMPLES, _preview, input_of, output_of, percentile
from modelport.hosting.fleet import free_port, log_tail, serve_command
from modelport.process import LAUNCHER, stop_all

# (body, content type, accept) → (status, answer, answer's content type); raises OSError when unreachable
Sender = Callable[[bytes, str, "str | None"], tuple[int, bytes, str]]
STARTUP_TIMEOUT = 120.0


class ReplayError(Exception):
    """The replay cannot run (no requests in the capture, a candidate that does not start); the message says why."""


def choose_variant(items: list[Captured], variant: str | None) -> list[Captured]:
    """The records of ``variant``, or of the only variant present (several need a choice)."""
    variants = sorted({item.variant for item in items})
    if variant is not None:
        chosen = [item for item in items if item.variant == variant]
        if not chosen:
            raise ReplayError(f"no capture records of variant {variant}; the capture has: "
                              f"{', '.join(v or '(no variant folder)' for v in variants) or 'none'}.")
        return chosen
    if len(variants) > 1:
        raise ReplayError(f"the capture holds several variants ({', '.join(variants)}); choose one with --variant.")
    return items


def replay(items: Iterable[Captured], send: Sender, *, concurrency: int = 4, on_done: Callable[[], None] | None = None,
           rel: float = REL_TOLERANCE, abs_: float = ABS_TOLERANCE) -> dict[str, Any]:
    """Send every captured input with ``send``; the summary (agreement, latency p50/p99 in ms, errors, examples)."""
    requests = [(item, input_of(item.record)) for item in items]
    requests = [(item, request) for item, request in requests if request is not None]
    if not requests:
        raise ReplayError("the capture holds no requests (its records have no endpointInput; capture with "
                          "CaptureMode Input or InputAndOutput to replay it).")

    def one(entry: tuple[Captured, tuple[bytes, str]]) -> dict[str, Any]:
        item, (data, content_type) = entry
        captured = output_of(item.record)
        started = time.perf_counter()
        try:
            status, answer, answer_type = send(data, content_type or "application/octet-stream",
                                               captured[1] if captured else None)
        except OSError as exc:
            status, answer, answer_type = 0, str(exc).encode(), ""
        seconds = time.perf_counter() - started
        if on_done is not None:
            on_done()
        outcome: dict[str, Any] = {"seconds": seconds, "status": status, "item": item, "answer": answer}
        if not 200 <= status < 300:
            outcome["result"] = "error"
        elif captured is None:
            outcome["result"] = "answered"
        else:
            same = answers_agree(captured[0], captured[1], answer, answer_type, rel, abs_)
            outcome["result"] = "agree" if same else "disagree"
            outcome["captured"] = captured[0]
        return outcome

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        outcomes = list(pool.map(one, requests))
    latencies = [o["seconds"] for o in outcomes if o["result"] != "error"]
    compared = sum(1 for o in outcomes if o["result"] in ("agree", "disagree"))
    agreed = sum(1 for o in outcomes if o["result"] == "agree")
    errors = [o for o in outcomes if o["result"] == "error"]

    def example(o: dict[str, Any]) -> dict[str, Any]:
        meta = o["item"].record.get("eventMetadata") or {}
        out = {"eventId": meta.get("eventId"), "input": _preview(input_of(o["item"].record)[0])}
        if o["result"] == "error":
            out.update(status=o["status"], error=_preview(o["answer"]))
        else:
            out.update(captured=_preview(o["captured"]), candidate=_preview(o["answer"]))
        return out

    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return {
        "requests": len(outcomes), "compared": compared, "agreed": agreed,
        "agreement": agreed / compared if compared else None,
        "errors": len(errors), "error_rate": len(errors) / len(outcomes),
        "p50_ms": p50 * 1000 if p50 is not None else None, "p99_ms": p99 * 1000 if p99 is not None else None,
        "disagreements": [example(o) for o in outcomes if o["result"] == "disagree"][:EXAMPLES],
        "error_examples": [example(o) for o in errors][:EXAMPLES],
    }


def http_sender(url: str, timeout: float = 60.0) -> Sender:
    """Send to a model server's ``POST /invocations`` at ``url`` (the container contract)."""
    import httpx

    client = httpx.Client(base_url=url, timeout=timeout, limits=httpx.Limits(max_connections=32))

    def send(data: bytes, content_type: str, accept: str | None) -> tuple[int, bytes, str]:
        headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
        try:
            answer = client.post("/invocations", content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise OSError(f"{url}: {exc}") from None
        return answer.status_code, answer.content, answer.headers.get("content-type", "")

    return send


def endpoint_sender(runtime: Any, endpoint: str) -> Sender:
    """Send with InvokeEndpoint (a boto3 ``sagemaker-runtime`` client) to ``endpoint``."""
    from botocore.exceptions import BotoCoreError, ClientError

    def send(data: bytes, content_type: str, accept: str | None) -> tuple[int, bytes, str]:
        extra = {"Accept": accept} if accept else {}
        try:
            answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=data, ContentType=content_type, **extra)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("OriginalStatusCode") or exc.response["ResponseMetadata"]["HTTPStatusCode"]
            return int(status), f"{error.get('Code')}: {error.get('Message')}".encode(), ""
        except BotoCoreError as exc:
            raise OSError(str(exc)) from None
        return 200, answer["Body"].read(), answer.get("ContentType", "")

    return send


class CandidateRuntime:
    """An archive served on a free local port by the runtime (``modelport serve``'s server), for the replay's
    duration; its output goes to a log file named in any start failure."""

    def __init__(self, archive: str, workers: int = 1) -> None:
        self.archive, self.workers = archive, workers
        self.url = ""
        self.process = None
        self.log_path = Path(tempfile.mkstemp(prefix="modelport-replay-", suffix=".log")[1])

    def __enter__(self) -> "CandidateRuntime":
        import subprocess

        import httpx

        port = free_port()
        command = serve_command(self.archive, port, self.workers)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, str(os.getpid()), *command],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReplayError(f"the candidate {self.archive} did not start (exit {self.process.returncode}); "
                                  f"its log {self.log_path}:\n{log_tail(self.log_path)}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise ReplayError(f"the candidate {self.archive} did not answer /ping within {STARTUP_TIMEOUT:g} s; "
                          f"its log: {self.log_path}")

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None:
            stop_all([self.process], 10.0)
        if not exc or exc[0] is None:
            self.log_path.unlink(missing_ok=True)  # kept when the replay failed
