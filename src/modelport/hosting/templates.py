"""Instance templates on hosting's side: start them, ask them to fork instances, restart them when they die.

A template (:mod:`modelport.runtime.template`) is a warm process per framework family that has imported the
runtime and the framework, and forks instances in milliseconds instead of a new Python process importing
numpy, scikit-learn or torch for each. The ``sklearn`` template starts with hosting (most models need it, and
a serverless cold start must not wait for it); the ``pytorch`` one (torch costs about 1.5 s of CPU and
150 MB more) only when the first instance of a PyTorch model needs it. An instance goes to the ``pytorch``
template when its image is a PyTorch image, or its archive holds a ``.pt``/``.pth`` file or code that
mentions torch (:func:`model_family`).

An instance is started the old way (a new process through the launcher) when the fork server is off
(``MODELPORT_HOSTING_FORKSERVER=0``), when hosting cannot be a child subreaper (not Linux), while its
template is not usable (it failed to start: its error is logged), or when the instance's environment gives a
variable that native libraries read when they are imported (``IMPORT_TIME_PREFIXES``) another value than
the template's. Thread-pool sizes (``OMP_NUM_THREADS`` and the like) are applied after the fork instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import tarfile
import time
from pathlib import Path

from modelport.hosting import children
from modelport.process import LAUNCHER
from modelport.runtime.forking import THREAD_LIMIT_KEYS

log = logging.getLogger(__name__)

EAGER_FAMILIES = ("sklearn",)
IMPORT_TIME_PREFIXES = ("OMP_", "KMP_", "GOMP_", "MKL_", "OPENBLAS_", "GOTO", "NUMEXPR_", "NPY_", "NUMPY_",
                        "SCIPY_", "SKLEARN_", "JOBLIB_", "TORCH", "PYTORCH_", "CUDA_", "MALLOC_", "LC_", "LANG")
REPLY_TIMEOUT = 10.0  # seconds a template may take to fork one instance
RESTART_FIRST_SECONDS = 0.2
RESTART_MAX_SECONDS = 30.0
SCAN_LIMIT = 64 << 20  # bytes of an archive read to guess its family
MAX_MESSAGE = 1 << 20


def template_environment() -> dict[str, str]:
    """A template's environment: hosting's own (instances get theirs after the fork)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


class TemplateUnavailable(Exception):
    """A template cannot fork right now; the instance is started as a new process instead."""


def model_family(artifact: str, environment: dict[str, str]) -> str:
    """``pytorch`` or ``sklearn``: which template an instance of this model forks from."""
    if environment.get("MODELPORT_FRAMEWORK") == "pytorch":
        return "pytorch"
    path = Path(artifact[len("file://"):] if artifact.startswith("file://") else artifact)
    try:
        return "pytorch" if _mentions_torch(path) else "sklearn"
    except (OSError, tarfile.TarError, EOFError):
        return "sklearn"  # the runtime reports an unreadable archive itself


def _mentions_torch(path: Path) -> bool:
    def code_says_torch(name: str, read) -> bool:  # noqa: ANN001 - read(): the member's bytes
        if name.endswith((".pt", ".pth")):
            return True
        parts = Path(name).parts
        if "code" in parts and name.endswith((".py", ".txt")):
            return b"torch" in read()[:1 << 20]
        return False

    if path.is_dir():
        return any(code_says_torch(str(p.relative_to(path)), p.read_bytes) for p in path.rglob("*") if p.is_file())
    with tarfile.open(path, mode="r|*") as archive:
        for member in archive:
            if member.isfile() and code_says_torch(member.name, lambda: archive.extractfile(member).read()):
                return True
            if archive.fileobj.tell() > SCAN_LIMIT:
                return False
    return False


class Template:
    """One template process and the socket hosting speaks to it over."""

    def __init__(self, family: str, home: Path, log_path: Path) -> None:
        self.family = family
        self.home = home
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.control: socket.socket | None = None
        self.error: str | None = None  # why it is not usable (None: starting or ready)
        self.ready = asyncio.Event()  # set once it said ready, or failed (then ``error`` says why)
        self._pending: dict[int, asyncio.Future] = {}  # request id → its answer
        self._next_id = 0
        self._reader: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        """The template's pid while it runs."""
        return self.process.pid if self.process is not None and self.process.returncode is None else None

    async def start(self, timeout: float) -> None:
        """Start the process and wait for its ready message (``error`` is set when it fails)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "modelport.runtime.template", "--family", self.family,
                   "--control-fd", str(theirs.fileno()), "--hosting-pid", str(os.getpid()), "--home", str(self.home)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.log_path.open("ab") as output:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-S", "-c", LAUNCHER, str(os.getpid()), *command,
                    stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=asyncio.subprocess.STDOUT,
                    env=template_environment(), pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError as exc:
            ours.close()
            self.fail(f"could not start: {exc}")
            return
        finally:
            theirs.close()
        ours.setblocking(False)
        self.control = ours
        try:
            message = await asyncio.wait_for(self._receive(), timeout)
        except (asyncio.TimeoutError, ConnectionError, ValueError) as exc:
            self.fail(f"did not say ready ({exc!r}); see {self.log_path}")
            return
        if "error" in message:
            self.fail(f"{message['error']}; see {self.log_path}")
            return
        log.info("the %s template (pid %s) is ready after %.2f s, %d modules loaded", self.family,
                 message.get("pid"), message.get("seconds", 0), message.get("modules", 0))
        self._reader = asyncio.create_task(self._read_answers())
        self.ready.set()

    def fail(self, why: str) -> None:
        """Mark the template unusable (``why`` is logged; instances start as new processes) and kill it."""
        self.error = f"the {self.family} instance template {why}"
        log.warning("%s; instances start as new processes meanwhile", self.error)
        self.ready.set()
        self.kill()

    async def _read_answers(self) -> None:
        """Hand each answer to the request with its id, until the template's socket closes."""
        try:
            while True:
                answer = await self._receive()
                waiting = self._pending.pop(answer.get("id"), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(answer)
        except (OSError, ValueError) as exc:
            for waiting in self._pending.values():
                if not waiting.done():
                    waiting.set_exception(TemplateUnavailable(f"the {self.family} template stopped answering: {exc!r}"))
            self._pending.clear()

    async def _receive(self) -> dict:
        data = await asyncio.get_running_loop().sock_recv(self.control, MAX_MESSAGE)
        if not data:
            raise ConnectionError("the template closed its socket")
        return json.loads(data)

    async def fork(self, arguments: list[str], environment: dict[str, str], log_fd: int) -> children.AdoptedProcess:
        """Have the template fork an instance running the runtime with ``arguments`` and ``environment``
        (its stdout and stderr on ``log_fd``)."""
        if self.error is not None or self.control is None:
            raise TemplateUnavailable(self.error or f"the {self.family} template is not running")
        self._next_id += 1
        request_id = self._next_id
        request = json.dumps({"id": request_id, "argv": arguments, "env": environment}).encode()
        answer = self._pending[request_id] = asyncio.get_running_loop().create_future()
        try:
            await self._send(request, log_fd)
            reply = await asyncio.wait_for(answer, REPLY_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            self.fail(f"stopped answering ({exc!r})")
            raise TemplateUnavailable(self.error) from None
        finally:
            self._pending.pop(request_id, None)
        if "pid" not in reply:
            raise TemplateUnavailable(f"the {self.family} template could not fork: {reply.get('error')}")
        return children.AdoptedProcess(int(reply["pid"]))

    async def _send(self, request: bytes, log_fd: int) -> None:
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            try:
                socket.send_fds(self.control, [request], [log_fd])
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.001)

    def kill(self) -> None:
        """Kill the template (its instances keep running) and close the socket."""
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None and self.process.returncode is None:
            try:
                os.killpg(self.process.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass


class Templates:
    """The templates of one hosting: one per family, started on demand (``sklearn`` at once), restarted
    when one dies."""

    def __init__(self, home: Path, log_dir: Path, enabled: bool, startup_timeout: float) -> None:
        self.home = home
        self.log_dir = log_dir
        self.enabled = enabled
        self.startup_timeout = startup_timeout
        self.templates: dict[str, Template] = {}
        self._watchers: set[asyncio.Task] = set()
        self._closing = False
        self._started = False  # holds the subreaper (children.acquire_subreaper)

    async def start(self) -> None:
        """Become a child subreaper and start the eager templates in the background."""
        if not self.enabled:
            return
        if not children.acquire_subreaper():
            log.warning("hosting cannot adopt forked instances here (no PR_SET_CHILD_SUBREAPER): instances start "
                        "as new processes")
            self.enabled = False
            return
        self._started = True
        for family in EAGER_FAMILIES:
            self._template(family)

    def _template(self, family: str) -> Template:
        template = self.templates.get(family)
        if template is None:
            template = self.templates[family] = Template(family, self.home, self.log_dir / f"template-{family}.log")
            self._watch(template, RESTART_FIRST_SECONDS)
        return template

    def _watch(self, template: Template, delay: float) -> None:
        async def run() -> None:
            started = time.monotonic()
            try:
                await template.start(self.startup_timeout)
            except Exception as exc:  # noqa: BLE001 - never leave fork() waiting for a template that cannot come
                template.fail(f"could not start: {exc!r}")
            if template.process is None or not template.ready.is_set() or template.error is not None:
                return  # it could not start (its error is logged): instances start as new processes
            code = await template.process.wait()
            template.kill()
            if self._closing:
                return
            lived = time.monotonic() - started
            next_delay = RESTART_FIRST_SECONDS if lived > 60 else min(RESTART_MAX_SECONDS, delay * 2)
            log.warning("the %s instance template exited with code %s; restarting it in %g s", template.family,
                        code, delay)
            await asyncio.sleep(delay)
            if not self._closing and self.templates.get(template.family) is template:
                replacement = self.templates[template.family] = Template(template.family, self.home, template.log_path)
                self._watch(replacement, next_delay)

        task = asyncio.create_task(run())
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    def usable_for(self, environment: dict[str, str]) -> str | None:
        """Why an instance with this environment cannot fork from a template (None: it can)."""
        if not self._started:
            return "the fork server is off" if not self.enabled else "hosting's fork server is not running"
        base = template_environment()
        for key, value in environment.items():
            if key.startswith(IMPORT_TIME_PREFIXES) and key not in THREAD_LIMIT_KEYS and base.get(key) != value:
                return f"its environment sets {key}, which libraries read when imported"
        return None

    async def fork(self, family: str, arguments: list[str], environment: dict[str, str],
                   log_fd: int) -> children.AdoptedProcess:
        """Fork an instance from the family's template (started now if need be, and waited for);
        :class:`TemplateUnavailable` when it cannot."""
        why = self.usable_for(environment)
        if why is not None:
            raise TemplateUnavailable(why)
        template = self._template(family)
        await template.ready.wait()
        return await template.fork(arguments, environment, log_fd)

    def describe(self) -> list[dict]:
        """The templates' states (the instances listing)."""
        return [{"family": t.family, "pid": t.pid, "ready": t.ready.is_set() and t.error is None, "error": t.error}
                for t in self.templates.values()]

    async def close(self) -> None:
        """Stop every template (instances are stopped by their fleets) and stop adopting orphans."""
        self._closing = True
        for task in list(self._watchers):
            task.cancel()
        for template in self.templates.values():
            template.error = template.error or "hosting is stopping"
            template.ready.set()  # nothing waits for it any more
            template.kill()
            if template.process is not None and template.process.returncode is None:
                await template.process.wait()
        self.templates.clear()
        if self._started:
            self._started = False
            children.release_subreaper()
