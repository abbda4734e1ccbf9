"""The README's main job (``zeronvs orbit`` on the example input) with the embedded demo model."""

import json
import shlex
from pathlib import Path

import pytest

from zeronvs_core.cli import main
from zeronvs_core.model import DEMO_MODEL_NAME, demo_model_path, load_zeronvs, resolve_model_path

ROOT = Path(__file__).parents[1]


def readme_main_job() -> list[str]:
    """The arguments of the ``zeronvs`` call that ends the README's main-job command."""
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if "&& zeronvs orbit" in line]
    assert len(lines) == 1, "README.md must show one main-job command"
    return shlex.split(lines[0].split("&& zeronvs ", 1)[1])


def test_the_demo_model_ships_with_its_card():
    path = demo_model_path()
    assert resolve_model_path(None) == resolve_model_path(DEMO_MODEL_NAME) == path
    assert path.stat().st_size < 20 * 2**20
    card = path.with_suffix(".md").read_text()
    assert "bench_mini_quality" in card and "training/autoencoder.py" in card
    model = load_zeronvs(path)
    assert model.config.resolution == 64 and model.config.camera_mode == "7dof_quantile_scale"


def test_readme_main_job_runs_on_the_demo_model(tmp_path, capsys):
    args = readme_main_job()
    assert args[:2] == ["orbit", "demo/object.png"] and "--model" not in args
    short = ["--steps", "3", "--frames", "2", "--size", "16", "--out", str(tmp_path)]
    assert main([*args, *short]) == 0
    assert f"orbit video: {tmp_path / 'orbit.mp4'}" in capsys.readouterr().out
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["settings"]["model"] == DEMO_MODEL_NAME and record["settings"]["camera"]["fov_deg"] == 53.26


@pytest.mark.slow
def test_readme_main_job_exactly(tmp_path):
    assert main([*readme_main_job(), "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "done" and record["settings"]["preset"] == "cpu_smoke"
    assert len(list((tmp_path / "frames").glob("*.png"))) == record["settings"]["frames"]
