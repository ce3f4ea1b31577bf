"""MODELPORT_HOME's default: ``.modelport`` at the root of the modelport checkout the current directory is
in, ``~/.modelport`` anywhere else; the variable, when set, wins. Every settings class with a home agrees."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.config import default_home, find_checkout, get_settings
from modelport.runtime.environment import RuntimeEnvironment
from modelport.stack.up import UpOptions

CHECKOUT_PYPROJECT = '[project]\nname = "modelport"\nversion = "0.1.0"\n'


@pytest.fixture
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    monkeypatch.delenv("MODELPORT_HOME", raising=False)
    home = tmp_path / "me"
    checkout = tmp_path / "src" / "modelport"
    (checkout / "page" / "src").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text(CHECKOUT_PYPROJECT)
    other = tmp_path / "projects" / "mine"
    (other / "sub").mkdir(parents=True)
    (other / "pyproject.toml").write_text('[project]\nname = "mine"\n')
    nested = checkout / "examples" / "theirs"  # another project inside a modelport checkout
    nested.mkdir(parents=True)
    (nested / "pyproject.toml").write_text('[project]\nname = "theirs"\n')
    plain = tmp_path / "empty"
    plain.mkdir()
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return {"home": home, "checkout": checkout, "other": other, "nested": nested, "plain": plain}


@pytest.mark.parametrize("where, expected", [
    ("checkout", "checkout"),
    ("checkout/page/src", "checkout"),
    ("plain", "home"),
    ("other/sub", "home"),
    ("nested", "home"),
])
def test_the_default_follows_the_current_directory(places, monkeypatch, where, expected):
    first, *rest = where.split("/")
    monkeypatch.chdir(places[first].joinpath(*rest))
    wanted = places[expected] / ".modelport"
    assert default_home() == wanted
    assert get_settings().home == wanted
    assert RuntimeEnvironment().home == wanted
    assert UpOptions().home == wanted


def test_the_variable_wins(places, monkeypatch, tmp_path):
    monkeypatch.chdir(places["checkout"])
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "elsewhere"))
    assert get_settings().home == tmp_path / "elsewhere" == RuntimeEnvironment().home


def test_a_broken_pyproject_is_not_a_checkout(places, monkeypatch):
    (places["plain"] / "pyproject.toml").write_text("[project\nname = ")
    assert find_checkout(places["plain"]) is None
    monkeypatch.chdir(places["plain"])
    assert default_home() == places["home"] / ".modelport"


def test_this_repository_is_a_checkout():
    root = Path(__file__).resolve().parents[1]
    assert find_checkout(root / "tests") == root
