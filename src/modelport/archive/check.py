"""Check an archive before serving it: unpack it safely, look at its layout, then import its handler
in a separate process (``python -m modelport.runtime.inspect``) and collect that process's report.

User code never runs in this process: a crashing or hanging ``inference.py`` only ends the child.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelport.archive.errors import ArchiveError
from modelport.archive.pack import CODE_DIR, DEFAULT_ENTRY_SCRIPT
from modelport.archive.settings import ArchiveSettings
from modelport.archive.unpack import safe_extract

INSPECT_MODULE = "modelport.runtime.inspect"
HANDLER_NAMES = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn", "model_warmup_fn")
DEFAULT_TIMEOUT_SECONDS = 300.0
CONTENT_TYPES_BY_SUFFIX = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".npy": "application/x-npy",
    ".npz": "application/x-npz",
}
_STDERR_TAIL_LINES = 20
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class InspectReport:
    """The report printed by ``python -m modelport.runtime.inspect`` (one JSON object)."""

    ok: bool
    module: str | None = None
    functions: dict[str, bool] = field(default_factory=dict)
    defaults: list[str] = field(default_factory=list)
    framework: str = "none"
    problems: list[str] = field(default_factory=list)
    invocation: dict[str, Any] | None = None
    # False when the inspector gave no report (crash, timeout): the fields above are then empty.
    from_inspector: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InspectReport:
        """Build a report from the inspector's JSON, tolerating missing optional keys."""
        return cls(
            ok=bool(data.get("ok")),
            module=data.get("module"),
            functions={str(k): bool(v) for k, v in (data.get("functions") or {}).items()},
            defaults=[str(name) for name in data.get("defaults") or []],
            framework=str(data.get("framework") or "none"),
            problems=[str(p) for p in data.get("problems") or []],
            invocation=data.get("invocation"),
            from_inspector=True,
        )


@dataclass
class CheckResult:
    """Everything ``modelport check`` found about one archive."""

    archive: str
    files: int = 0
    total_bytes: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    report: InspectReport | None = None

    @property
    def ok(self) -> bool:
        """True when neither the archive nor the inspector found a problem."""
        return not self.problems and self.report is not None and self.report.ok

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for ``modelport check --json``."""
        data = asdict(self)
        data["ok"] = self.ok
        return data


def guess_content_type(sample: Path) -> str | None:
    """The content type for a sample file from its suffix (json, csv, npy, npz), else None."""
    return CONTENT_TYPES_BY_SUFFIX.get(sample.suffix.lower())


def check_archive(
    archive: Path | str,
    *,
    sample: Path | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    framework: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> CheckResult:
    """Unpack ``archive`` into a temporary folder, check its layout and inspect its handler.

    ``framework`` (auto, sklearn, pytorch, none) picks SageMaker's default handlers, as for serve.

    A refused or unreadable archive is reported as a problem (not raised); so is a failed import,
    ``transform_fn`` combined with input/predict/output, or a failed sample invocation.
    """
    result = CheckResult(archive=str(archive))
    if sample is not None and not Path(sample).is_file():
        result.problems.append(f"sample file {str(sample)!r} does not exist")
        return result
    if sample is not None and content_type is None:
        content_type = guess_content_type(Path(sample))
        if content_type is None:
            result.problems.append(
                f"cannot tell the content type of {str(sample)!r} from its suffix; pass --content-type "
                f"(known suffixes: {', '.join(CONTENT_TYPES_BY_SUFFIX)})"
            )
            return result
    with tempfile.TemporaryDirectory(prefix="modelport-check-") as workdir:
        try:
            model_dir = safe_extract(archive, Path(workdir) / "model")
        except ArchiveError as error:
            result.problems.append(str(error))
            return result
        result.files, result.total_bytes = _count_files(model_dir)
        notes, problems = layout_findings(model_dir)
        result.notes.extend(notes)
        result.problems.extend(problems)
        if problems:  # a broken layout would only give follow-on errors from the handler check
            return result
        result.report = run_inspect(
            model_dir,
            sample=sample,
            content_type=content_type,
            accept=accept,
            framework=framework,
            timeout=timeout,
            cwd=Path(workdir),
        )
        result.problems.extend(cross_check(result.report))
        result.notes.extend(missing_requirement_hints(result.report.problems, listed_requirements(model_dir)))
        if model_dir.parent == Path(workdir):
            _hide_temporary_paths(result.report, model_dir)
    return result


def _hide_temporary_paths(report: InspectReport, model_dir: Path) -> None:
    """Show paths inside the temporary unpack folder relative to the archive root (code/inference.py)."""
    prefixes = sorted({str(model_dir) + os.sep, str(model_dir.resolve()) + os.sep}, key=len, reverse=True)

    def relative(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    if report.module:
        report.module = relative(report.module)
    report.problems = [relative(problem) for problem in report.problems]


def layout_findings(model_dir: Path) -> tuple[list[str], list[str]]:
    """Notes and problems about the unpacked layout that SageMaker would trip over."""
    notes: list[str] = []
    problems: list[str] = []
    entries = sorted(model_dir.iterdir(), key=lambda p: p.name)
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != CODE_DIR:
        top = entries[0].name
        problems.append(
            f"everything is inside the folder {top + '/'!r}: SageMaker unpacks the archive into "
            f"/opt/ml/model, so the files must be at the archive root "
            f"(run `modelport pack {top} -o model.tar.gz`, or `cd {top} && tar czf ../model.tar.gz *`)"
        )
        return notes, problems
    code = model_dir / CODE_DIR
    if not code.is_dir():
        notes.append(f"no {CODE_DIR}/ folder: only SageMaker's default handlers can apply")
    elif not (code / DEFAULT_ENTRY_SCRIPT).is_file() and not ArchiveSettings().entry_script:
        notes.append(f"no {CODE_DIR}/{DEFAULT_ENTRY_SCRIPT}: the entry script must be named by SAGEMAKER_PROGRAM")
    wanted = listed_requirements(model_dir)
    if wanted:
        notes.append(
            f"code/requirements.txt lists {len(wanted)} requirement(s) ({', '.join(wanted[:5])}"
            f"{', ...' if len(wanted) > 5 else ''}); `modelport serve` installs them only with "
            "--install-requirements"
        )
    return notes, problems


def listed_requirements(model_dir: Path) -> list[str]:
    """The requirement lines of ``code/requirements.txt`` (no comments or blanks); [] without one."""
    requirements = model_dir / CODE_DIR / "requirements.txt"
    if not requirements.is_file():
        return []
    return [
        line.strip()
        for line in requirements.read_text(errors="replace").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]


def missing_requirement_hints(problems: list[str], requirements: list[str]) -> list[str]:
    """Notes for modules that failed to import but are listed in code/requirements.txt."""
    listed = {_project_key(match.group(0)) for line in requirements if (match := _REQUIREMENT_NAME.match(line))}
    hints = []
    for problem in problems:
        for module in _MISSING_MODULE.findall(problem):
            if _project_key(module.split(".")[0]) in listed:
                hints.append(
                    f"{module!r} is listed in code/requirements.txt but not installed here: install it into "
                    "this environment, or serve with --install-requirements"
                )
    return hints


def _project_key(name: str) -> str:
    """A package or module name compared loosely (case, '-', '_' and '.' ignored)."""
    return re.sub(r"[-_.]+", "", name).lower()


def cross_check(report: InspectReport) -> list[str]:
    """Problems the contract implies that the inspector's report did not already name.

    SageMaker refuses ``transform_fn`` together with input/predict/output, and a sample invocation
    that did not answer 2xx means the archive does not work as shipped.
    """
    problems: list[str] = []
    mixed = [name for name in ("input_fn", "predict_fn", "output_fn") if report.functions.get(name)]
    if report.functions.get("transform_fn") and mixed and not any("transform_fn" in p for p in report.problems):
        problems.append(
            f"transform_fn is defined together with {', '.join(mixed)}; SageMaker refuses this "
            "(define either transform_fn alone, or input_fn/predict_fn/output_fn)"
        )
    invocation = report.invocation
    if invocation is not None:
        status = invocation.get("status")
        if not (isinstance(status, int) and 200 <= status < 300) and not any(
            "invocation" in p.lower() for p in report.problems
        ):
            problems.append(f"the sample invocation answered {status}: {str(invocation.get('body', ''))[:200]}")
    return problems


def run_inspect(
    model_dir: Path,
    *,
    sample: Path | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    framework: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    cwd: Path | None = None,
) -> InspectReport:
    """Run the runtime's inspector on ``model_dir`` in a child process and parse its JSON report.

    A child that crashes, hangs past ``timeout`` or prints no report gives a report with ``ok=False``
    and a problem that quotes the end of its stderr.
    """
    command = [sys.executable, "-m", INSPECT_MODULE, str(model_dir)]
    if sample is not None:
        command += ["--sample", str(Path(sample).absolute())]
    if content_type is not None:
        command += ["--content-type", content_type]
    if accept is not None:
        command += ["--accept", accept]
    if framework is not None:
        command += ["--framework", framework]
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            # No __pycache__ written into a model folder that check was given directly.
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        return InspectReport(ok=False, problems=[f"the handler check did not finish within {timeout:g} s"])
    data = parse_report(completed.stdout)
    if data is None:
        return InspectReport(
            ok=False,
            problems=[
                f"the handler check ended with exit code {completed.returncode} and printed no report"
                + _stderr_tail(completed.stderr)
            ],
        )
    report = InspectReport.from_json(data)
    if completed.returncode != 0 and report.ok:
        report.ok = False
        report.problems.append(f"the handler check exited with code {completed.returncode}" + _stderr_tail(completed.stderr))
    elif not report.ok and not report.problems:
        report.problems.append("the handler check failed without naming a problem" + _stderr_tail(completed.stderr))
    return report


def parse_report(stdout: str) -> dict[str, Any] | None:
    """The inspector's JSON object: the whole output, or else its last line that is a JSON object
    (user code may print to stdout while it is imported)."""
    candidates = [stdout.strip()] + [line.strip() for line in reversed(stdout.splitlines())]
    for text in candidates:
        if not text.startswith("{"):
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and "ok" in data:
            return data
    return None


def _stderr_tail(stderr: str) -> str:
    """The last lines of a child's stderr, indented, or nothing when it was silent."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return ":\n" + "\n".join("    " + line for line in lines[-_STDERR_TAIL_LINES:])


def _count_files(model_dir: Path) -> tuple[int, int]:
    """How many files the model folder holds and their total size in bytes."""
    files = [p for p in model_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)
