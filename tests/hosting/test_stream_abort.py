"""A client that leaves a response stream early stops the model, through hosting's runtime API."""

from __future__ import annotations

import json

from tests.helpers.hosting import clients, deploy, start_hosting
from tests.helpers.runtime import write_model
from tests.helpers.waiting import eventually

GENERATOR = """
    import os, time
    def model_fn(model_dir):
        return os.environ["PROGRESS_FILE"]
    def predict_fn(data, progress):
        def tokens():
            try:
                for i in range(100000):
                    with open(progress, "a") as f:
                        f.write(f"{i}\\n")
                    yield f"token-{i} "
                    time.sleep(0.01)
            finally:
                with open(progress, "a") as f:
                    f.write("closed\\n")
        return tokens()
"""


def test_leaving_a_stream_through_hosting_closes_the_generator(tmp_path):
    from modelport.archive.pack import pack_archive

    archive = pack_archive(write_model(tmp_path / "src", GENERATOR), tmp_path / "model.tar.gz")
    progress = tmp_path / "progress.txt"
    progress.write_text("")
    hosting = start_hosting(tmp_path / "home")
    try:
        sm, rt = clients(hosting.url)
        deploy(sm, "gen", f"file://{archive}", env={"PROGRESS_FILE": str(progress), "SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
        response = rt.invoke_endpoint_with_response_stream(EndpointName="gen", Body=json.dumps([1]), ContentType="application/json")
        stream = response["Body"]
        first = next(iter(stream))
        assert first["PayloadPart"]["Bytes"].startswith(b"token-")
        stream.close()
        eventually(lambda: "closed" in progress.read_text(), 15, message=lambda: progress.read_text()[-200:])
        lines = progress.read_text().split()
        assert lines[-1] == "closed"
        assert len(lines) < 1000  # stopped within seconds, not after 100,000 tokens
    finally:
        hosting.stop()
