"""``zeronvs views``, ``orbit``, ``render`` and ``info`` on the tiny fixture model: outputs and their
shapes, ``run.json``, one-line errors, and Ctrl-C then ``--resume``."""

import json

import imageio.v3 as iio
import pytest
import torch

from zeronvs_core import cli
from zeronvs_core.cli import main
from zeronvs_core.model import save_zeronvs
from zeronvs_core.render import load_scene

EXAMPLE = "demo/object.png"
SMALL_ORBIT = ["--steps", "4", "--frames", "3", "--size", "16", "--device", "cpu"]


@pytest.fixture(scope="module")
def tiny_project_model(tiny_model, tmp_path_factory):
    return str(save_zeronvs(tiny_model, tmp_path_factory.mktemp("model") / "tiny.safetensors", dtype=torch.float32))


def test_views_writes_pngs_grid_and_run_json(tiny_project_model, tmp_path, capsys):
    out = tmp_path / "views"
    args = ["views", EXAMPLE, "--model", tiny_project_model, "--count", "3", "--steps", "2", "--out", str(out)]
    assert main(args) == 0
    assert "novel views:" in capsys.readouterr().out
    views = sorted((out / "views").glob("view_*.png"))
    assert [iio.imread(v).shape for v in views] == [(64, 64, 3)] * 3
    assert iio.imread(out / "grid.png").shape == (64, 192, 3)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done" and record["settings"]["count"] == 3
    assert record["settings"]["camera"] == {"fov_deg": 52.55, "elevation_deg": 31.0, "scale": 0.7}
    assert set(record["seconds"]) == {"load", "sample", "total"}


def test_orbit_then_render_the_saved_field(tiny_project_model, tmp_path, capsys):
    out = tmp_path / "orbit"
    args = ["orbit", EXAMPLE, "--model", tiny_project_model, "--fov", "53.26", "--elevation", "17.9"]
    assert main([*args, "--scale", "0.74", *SMALL_ORBIT, "--out", str(out)]) == 0
    assert "orbit video:" in capsys.readouterr().out
    for name in ("orbit.mp4", "depth.mp4", "field.safetensors", "checkpoint/last.ckpt"):
        assert (out / name).is_file(), name
    assert [iio.imread(f).shape for f in sorted((out / "frames").glob("*.png"))] == [(16, 16, 3)] * 3
    assert iio.imread(out / "orbit.mp4", index=None).shape == (3, 16, 16, 3)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done" and record["settings"]["preset"] == "cpu_smoke"
    assert record["settings"]["distill"]["steps"] == 4 and {"distill", "render"} <= set(record["seconds"])
    scene, settings = load_scene(out / "field.safetensors")
    assert (settings.fov_deg, settings.elevation_deg) == (53.26, 17.9)

    again = tmp_path / "render"
    assert main(["render", str(out / "field.safetensors"), "--frames", "2", "--size", "12", "--out", str(again)]) == 0
    assert iio.imread(again / "depth.mp4", index=None).shape == (2, 12, 12, 3)
    assert json.loads((again / "run.json").read_text())["settings"]["elevation_deg"] is None  # the field's own


def test_ctrl_c_leaves_a_checkpoint_and_resume_continues(tiny_project_model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "orbit"
    args = ["orbit", EXAMPLE, "--model", tiny_project_model, *SMALL_ORBIT, "--out", str(out)]
    steps = []

    def progress(stop_at=None):
        """``cli._progress``: each phase's callback; the distillation's records its steps and presses Ctrl-C."""

        def phase(description):
            def callback(step, total, preview=None):
                if description.startswith("distillation"):
                    steps.append(step)
                    if step == stop_at:
                        raise KeyboardInterrupt

            return callback

        return phase

    monkeypatch.setattr(cli, "_progress", progress(stop_at=2))
    assert main(args) == 130
    assert "interrupted (continue with --resume)" in capsys.readouterr().err
    assert (out / "checkpoint" / "last.ckpt").is_file()
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted during distill"

    assert main([*args, "--frames", "4", "--resume"]) == 2  # the last --frames wins
    assert "these differ: ['frames']" in capsys.readouterr().err

    steps.clear()
    monkeypatch.setattr(cli, "_progress", progress())
    assert main([*args, "--resume"]) == 0
    assert steps == [3, 4]  # steps 3 and 4 only: steps 1 and 2 came from the checkpoint
    assert json.loads((out / "run.json").read_text())["status"] == "done"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["views", "missing.png"], "image file missing.png does not exist"),
        (["views", EXAMPLE, "--model", "missing.safetensors"], "model file missing.safetensors does not exist"),
        (["views", EXAMPLE, "--fov", "200", "--model", "{model}"], "fov"),
        (["views", EXAMPLE, "--elevation", "95", "--model", "{model}"], "elevation must be in (-90, 90)"),
        (["views", EXAMPLE, "--scale", "0", "--model", "{model}"], "scale must be a positive number"),
        (["views", EXAMPLE, "--count", "0", "--model", "{model}"], "count must be at least 1"),
        (["orbit", EXAMPLE, "--preset", "slow", "--model", "{model}"], "unknown preset 'slow'"),
        (["orbit", EXAMPLE, "--device", "tpu", "--model", "{model}"], "device must be auto, cpu or cuda"),
        (["render", "missing.safetensors"], "missing.safetensors"),
        (["render", "{model}"], "is not a ZeroNVS scene file"),
        (["info", "missing.safetensors"], "model file missing.safetensors does not exist"),
        (["views", "README.md", "--model", "{model}"], "README.md is not a readable image"),
    ],
)
def test_bad_arguments_give_one_line_errors(tiny_project_model, tmp_path, capsys, args, message):
    args = [a.replace("{model}", tiny_project_model) for a in args]
    assert main([*args, "--out", str(tmp_path)] if args[0] != "info" else args) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronvs: error:") and message in err and err.count("\n") == 1, err


def test_info_describes_a_checkpoint(tiny_project_model, capsys):
    assert main(["info", tiny_project_model, "--json"]) == 0
    description = json.loads(capsys.readouterr().out)
    assert description["format"] == "zeronvs (project format)" and description["resolution"] == 64
    assert description["parameters"] == sum(
        description[f"parameters_{p}"] for p in ("unet", "vae", "image_encoder", "cc_projection")
    )
    assert main(["info", tiny_project_model]) == 0
    assert "camera_mode" in capsys.readouterr().out
