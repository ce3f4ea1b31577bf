"""Shadow variants with unmodified boto3 against real hosting: the caller sees only production (a shadow that is
slow and fails changes neither the answer nor the status), the shadow's calls are counted and captured under its
own variant folder, its weight samples the copies, and `modelport shadow report` compares the two."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.helpers.capture import create_model, endpoint_config, make_capture_archive, records
from tests.helpers.hosting import auth_headers, wait_in_service
from tests.helpers.waiting import eventually

_TYPES = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


@pytest.fixture(scope="module")
def hosting_options() -> dict:
    return {"capture_flush_seconds": 0.1}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return make_capture_archive(tmp_path_factory.mktemp("shadow-model"))


def deploy(sm, name: str, archive, tmp_path, shadow_env: dict, shadow_weight: float = 1.0) -> dict:
    create_model(sm, f"{name}-prod", archive)
    create_model(sm, f"{name}-shadow", archive, **shadow_env)
    endpoint_config(sm, name, f"{name}-prod", f"file://{tmp_path}/capture", shadow_model=f"{name}-shadow",
                    shadow_weight=shadow_weight, CaptureContentTypeHeader=_TYPES)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_in_service(sm, name)


def variant_counts(hosting, endpoint: str, variant: str) -> tuple[float, float]:
    """(Invocations, Invocation5XXErrors) of one variant from hosting's /metrics."""
    text = httpx.get(f"{hosting.url}/metrics", headers=auth_headers(hosting.url)).text
    labels = f'{{endpoint="{endpoint}",variant="{variant}"}}'
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if labels in line}
    return values.get(f"Invocations_total{labels}", 0.0), values.get(f"Invocation5XXErrors_total{labels}", 0.0)


def by_variant(folder) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in records(folder):
        out.setdefault(record["_file"].relative_to(folder).parts[1], []).append(record)
    return out


def test_a_slow_failing_shadow_is_invisible_to_the_caller(hosting, sm, rt, archive, tmp_path):
    described = deploy(sm, "sh-fail", archive, tmp_path, {"DELAY": "0.3", "FAIL": "1"})
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["AllTraffic"]
    assert [(v["VariantName"], v["CurrentInstanceCount"]) for v in described["ShadowProductionVariants"]] == \
        [("Shadow-01", 1)]
    config = sm.describe_endpoint_config(EndpointConfigName="sh-fail")
    assert config["ShadowProductionVariants"][0]["ModelName"] == "sh-fail-shadow"
    sent = 8
    for i in range(sent):
        answer = rt.invoke_endpoint(EndpointName="sh-fail", Body=json.dumps({"x": [i, 0]}),
                                    ContentType="application/json")
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert answer["InvokedProductionVariant"] == "AllTraffic"
        probabilities = json.loads(answer["Body"].read())["probabilities"]
        assert probabilities[0] >= probabilities[1]  # production's answer, not the shadow's error
    eventually(lambda: variant_counts(hosting, "sh-fail", "Shadow-01") == (sent, sent), 20,
               message="every copy reached the shadow and failed there")
    assert variant_counts(hosting, "sh-fail", "AllTraffic") == (sent, 0)
    captured = eventually(lambda: (v := by_variant(tmp_path / "capture")) and len(v.get("AllTraffic", [])) == sent
                          and v, 10, message="production's capture records")
    assert "Shadow-01" not in captured  # a failed answer is not captured


def test_shadow_report_compares_answers_latency_and_errors(hosting, sm, rt, archive, tmp_path):
    deploy(sm, "sh-flip", archive, tmp_path, {"SCALE": "-1", "DELAY": "0.05"})  # flips every argmax
    for i in range(6):  # distinct values: the shadow's argmax differs
        rt.invoke_endpoint(EndpointName="sh-flip", Body=json.dumps({"x": [i, i + 1, 0]}), ContentType="application/json",
                           InferenceId=f"req-{i}")
    for i in range(4):  # equal values: both answer class 0
        rt.invoke_endpoint(EndpointName="sh-flip", Body=json.dumps({"x": [i, i]}), ContentType="application/json")
    captured = eventually(lambda: (v := by_variant(tmp_path / "capture")) and len(v.get("Shadow-01", [])) == 10
                          and len(v.get("AllTraffic", [])) == 10 and v, 20, message="10 captures of each variant")
    shadow_ids = {r["eventMetadata"]["eventId"] for r in captured["Shadow-01"]}
    assert shadow_ids == {r["eventMetadata"]["eventId"] for r in captured["AllTraffic"]}
    assert sorted(r["eventMetadata"].get("inferenceId", "") for r in captured["Shadow-01"])[-6:] == \
        [f"req-{i}" for i in range(6)]
    env = {**os.environ, "MODELPORT_HOSTING_URL": hosting.url, "MODELPORT_HOSTING_TOKEN": hosting.token,
           "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "modelport", "shadow", "report", "sh-flip", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["compared"], report["agreed"], report["agreement"]) == (10, 4, 0.4)
    assert report["unpaired"] == {"AllTraffic": 0, "Shadow-01": 0}
    shadow, production = report["variants"]["Shadow-01"], report["variants"]["AllTraffic"]
    assert (shadow["invocations"], shadow["error_rate_5xx"], production["error_rate_5xx"]) == (10, 0.0, 0.0)
    assert (shadow["dropped"], production["dropped"]) == (0, 0)
    assert shadow["p50_ms"] is not None and shadow["p99_ms"] >= shadow["p50_ms"]
    assert len(report["disagreements"]) == 5 and '"probabilities"' in report["disagreements"][0]["shadow"]
    table = subprocess.run([sys.executable, "-m", "modelport", "shadow", "report", "sh-flip"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "agreement: 40.0% (4 of 10 paired answers)" in table.stdout and "Shadow-01" in table.stdout


def test_the_shadow_weight_samples_the_copies(hosting, sm, rt, archive, tmp_path):
    deploy(sm, "sh-sampled", archive, tmp_path, {}, shadow_weight=0.25)
    sent = 300
    for i in range(sent):
        rt.invoke_endpoint(EndpointName="sh-sampled", Body=b"%d" % i, ContentType="text/csv")
    seen: list[float] = []

    def settled() -> float | None:  # copies still in flight finish within a few ms: the same count twice
        seen.append(variant_counts(hosting, "sh-sampled", "Shadow-01")[0])
        return seen[-1] if len(seen) > 1 and seen[-2] == seen[-1] > 0 else None

    assert variant_counts(hosting, "sh-sampled", "AllTraffic")[0] == sent
    copies = eventually(settled, 10, 0.3, message=lambda: f"shadow counts {seen}")
    assert 35 <= copies <= 115, f"{copies} of {sent} copied at weight 0.25 (expected ~75)"  # > 5 standard deviations


def test_shadow_configs_as_sagemaker_allows_them(sm, archive):
    create_model(sm, "sh-bad", archive)
    variant = {"ModelName": "sh-bad", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    for production, shadows in (([{"VariantName": "A", **variant}, {"VariantName": "B", **variant}],
                                 [{"VariantName": "S", **variant}]),
                                ([{"VariantName": "A", **variant}], [{"VariantName": "a", **variant}])):
        with pytest.raises(sm.exceptions.ClientError) as caught:
            sm.create_endpoint_config(EndpointConfigName="sh-bad", ProductionVariants=production,
                                      ShadowProductionVariants=shadows)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert "ShadowProductionVariants" in caught.value.response["Error"]["Message"] or \
            "unique" in caught.value.response["Error"]["Message"]
