"""The parts of `modelport check` that read the inspector's report and judge it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.archive import make_model_dir

from modelport.archive.check import InspectReport, cross_check, guess_content_type, layout_findings, parse_report

GOOD = {
    "ok": True,
    "module": "/tmp/m/code/inference.py",
    "functions": {"model_fn": True, "predict_fn": True},
    "defaults": ["input_fn", "output_fn"],
    "framework": "sklearn",
    "problems": [],
    "invocation": None,
}


def test_report_is_found_after_lines_printed_by_user_code() -> None:
    stdout = "loading model...\n{not json\n" + json.dumps(GOOD) + "\n"
    assert parse_report(stdout) == GOOD
    assert parse_report(json.dumps(GOOD, indent=2)) == GOOD  # a pretty-printed object works too
    assert parse_report("Traceback (most recent call last):\n  ...\n") is None
    assert parse_report('{"no": "ok key"}') is None


def test_transform_fn_mixed_with_predict_fn_is_a_problem() -> None:
    report = InspectReport.from_json({**GOOD, "functions": {"model_fn": True, "transform_fn": True, "predict_fn": True}})
    problems = cross_check(report)
    assert len(problems) == 1 and "transform_fn" in problems[0] and "predict_fn" in problems[0]
    alone = InspectReport.from_json({**GOOD, "functions": {"model_fn": True, "transform_fn": True}})
    assert cross_check(alone) == []


def test_failed_invocation_is_a_problem() -> None:
    failed = InspectReport.from_json({**GOOD, "invocation": {"status": 415, "content_type": "application/json", "body": "unsupported"}})
    assert cross_check(failed) == ["the sample invocation answered 415: unsupported"]
    worked = InspectReport.from_json({**GOOD, "invocation": {"status": 200, "content_type": "application/json", "body": "[1]"}})
    assert cross_check(worked) == []


def test_layout_notes_requirements_and_missing_code(tmp_path: Path) -> None:
    with_code = make_model_dir(tmp_path / "a")
    (with_code / "code" / "requirements.txt").write_text("# pinned\nscikit-learn==1.5.2\n\njoblib\n")
    notes, problems = layout_findings(with_code)
    assert problems == [] and len(notes) == 1 and "2 requirement(s) (scikit-learn==1.5.2, joblib)" in notes[0]
    notes, problems = layout_findings(make_model_dir(tmp_path / "b", with_code=False))
    assert problems == [] and notes == ["no code/ folder: only SageMaker's default handlers can apply"]


def test_content_type_from_the_sample_suffix() -> None:
    assert guess_content_type(Path("x.JSON")) == "application/json"
    assert guess_content_type(Path("x.csv")) == "text/csv"
    assert guess_content_type(Path("x.npy")) == "application/x-npy"
    assert guess_content_type(Path("x.bin")) is None


def test_missing_module_listed_in_requirements_gets_a_hint(tmp_path: Path) -> None:
    from modelport.archive.check import listed_requirements, missing_requirement_hints

    model = make_model_dir(tmp_path / "m")
    (model / "code" / "requirements.txt").write_text("Scikit_Learn==1.5.2\n-r other.txt\ntransformers>=4\n")
    wanted = listed_requirements(model)
    assert wanted == ["Scikit_Learn==1.5.2", "transformers>=4"]
    problems = ["Importing code/inference.py failed:\nModuleNotFoundError: No module named 'transformers.models'"]
    hints = missing_requirement_hints(problems, wanted)
    assert len(hints) == 1 and "'transformers.models' is listed in code/requirements.txt" in hints[0]
    assert missing_requirement_hints(["No module named 'torch'"], wanted) == []
