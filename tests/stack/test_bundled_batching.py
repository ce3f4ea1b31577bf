"""``modelport up`` deploys the bundled models with batching: values hosting accepts, and a model name that
changes with them (so an endpoint deployed before batching is updated, not left as it was)."""

from __future__ import annotations

from modelport.runtime.environment import BATCH_KEYS, batching_setting_error
from modelport.stack import bundled
from modelport.stack.deploy import archive_digest


def test_the_batching_models_get_settings_hosting_accepts():
    assert set(bundled.ENVIRONMENT) == {"mnist-sklearn", "mnist-pytorch", "sentiment"}
    for environment in bundled.ENVIRONMENT.values():
        assert set(environment) == set(BATCH_KEYS)
        assert int(environment["MODELPORT_MAX_BATCH_SIZE"]) > 1  # on
        assert [batching_setting_error(key, value) for key, value in environment.items()] == [None, None]


def test_the_model_name_follows_the_environment(tmp_path):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"an archive")
    plain = archive_digest(archive)
    batched = archive_digest(archive, bundled.BATCHING)
    assert plain != batched and batched == archive_digest(archive, dict(reversed(list(bundled.BATCHING.items()))))
    assert archive_digest(archive, {**bundled.BATCHING, "MODELPORT_MAX_BATCH_SIZE": "8"}) != batched
