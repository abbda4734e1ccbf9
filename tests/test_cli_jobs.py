"""``zeronvs views``, ``orbit``, ``render`` and ``info`` on the tiny fixture model: outputs and their
shapes, ``run.json``, one-line errors, and Ctrl-C then ``--resume``."""

import json

import imageio.v3 as iio
import pytest
import torch

import zeronvs_core.distill
import zeronvs_core.sampling
from zeronvs_core import cli, jobs
from zeronvs_core.cameras import orbit_camera, orbit_path
from zeronvs_core.cli import main
from zeronvs_core.distill import DistillResult
from zeronvs_core.model import save_zeronvs
from zeronvs_core.nerf.scene import Scene
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
    assert record["status"] == "done" and record["settings"]["scale"] == 0.7
    camera = record["settings"]["camera"]
    assert (camera["fov_deg"], camera["elevation_deg"]) == (52.55, 31.0)
    torch.testing.assert_close(torch.tensor(camera["target_c2w"]), orbit_path(3, 31.0))
    assert set(record["seconds"]) == {"load", "sample", "total"}


def test_orbit_then_render_the_saved_scene(tiny_project_model, tmp_path, capsys):
    out = tmp_path / "orbit"
    args = ["orbit", EXAMPLE, "--model", tiny_project_model, "--fov", "53.26", "--elevation", "17.9"]
    assert main([*args, "--scale", "0.74", *SMALL_ORBIT, "--out", str(out)]) == 0
    assert f"scene: {out / 'scene.safetensors'}" in capsys.readouterr().out
    for name in ("orbit.mp4", "depth.mp4", "scene.safetensors", "checkpoint/last.ckpt"):
        assert (out / name).is_file(), name
    assert [iio.imread(f).shape for f in sorted((out / "frames").glob("*.png"))] == [(16, 16, 3)] * 3
    assert iio.imread(out / "orbit.mp4", index=None).shape == (3, 16, 16, 3)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done" and record["settings"]["preset"] == "cpu_smoke"
    assert record["settings"]["distill"]["steps"] == 4 and {"distill", "render"} <= set(record["seconds"])
    scene, settings = load_scene(out / "scene.safetensors")
    assert (settings.fov_deg, settings.elevation_deg) == (53.26, 17.9)

    again = tmp_path / "render"
    assert main(["render", str(out / "scene.safetensors"), "--frames", "2", "--size", "12", "--out", str(again)]) == 0
    assert iio.imread(again / "depth.mp4", index=None).shape == (2, 12, 12, 3)
    assert json.loads((again / "run.json").read_text())["settings"]["elevation_deg"] is None  # the scene's own
    assert capsys.readouterr().out.startswith(f"orbit video: {again / 'orbit.mp4'}")

    points = tmp_path / "points.ply"
    mesh_args = ["--out", str(points), "--points", "--frames", "2", "--size", "8", "--min-opacity", "1e-9"]
    assert main(["mesh", str(out / "scene.safetensors"), *mesh_args]) == 0
    assert points.is_file() and f"wrote {points}: 128 points" in capsys.readouterr().out
    old_name = out / "field.safetensors"  # an earlier version's name is a path like any other
    old_name.write_bytes((out / "scene.safetensors").read_bytes())
    assert main(["render", str(old_name), "--frames", "1", "--size", "12", "--out", str(tmp_path / "old")]) == 0
    torch.testing.assert_close(
        torch.tensor(iio.imread(tmp_path / "old" / "frames" / "frame_0000.png")),
        torch.tensor(iio.imread(again / "frames" / "frame_0000.png")),
    )


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


def test_the_jobs_sample_distil_and_render_with_the_cameras_and_scale_given(
    tiny_project_model, tmp_path, monkeypatch, capsys
):
    """Cheap: sampling, distillation and rendering are replaced by recorders of what they are handed."""
    handed = {}

    def fake_sample_views(model, image, cond_c2w, target_c2w, fov_deg, scale, **kwargs):
        handed["views"] = (cond_c2w, target_c2w, fov_deg, scale)
        return torch.zeros(target_c2w.shape[0], 3, 8, 8)

    def fake_distill(model, image, fov_deg, elevation_deg, scale, config, checkpoint_dir, resume, callback):
        handed["distill"] = (fov_deg, elevation_deg, scale, config.anchoring.count)
        return DistillResult(Scene(config.field), config.steps)

    def fake_outputs(scene, out, settings, cameras, size, progress):
        handed["render"] = (cameras, size, settings.fov_deg, settings.elevation_deg)
        return {"orbit": "o.mp4", "depth": "d.mp4", "frames": "frames"}

    monkeypatch.setattr(zeronvs_core.sampling, "sample_views", fake_sample_views)
    monkeypatch.setattr(zeronvs_core.distill, "distill", fake_distill)
    monkeypatch.setattr(jobs, "_render_outputs", fake_outputs)
    given = ["--model", tiny_project_model, "--fov", "40", "--elevation", "12.5", "--scale", "0.9"]
    assert main(["views", EXAMPLE, *given, "--count", "3", "--steps", "1", "--out", str(tmp_path / "v")]) == 0
    assert main(["orbit", EXAMPLE, *given, "--anchors", "2", *SMALL_ORBIT, "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    cond_c2w, target_c2w, fov_deg, scale = handed["views"]
    assert torch.equal(cond_c2w, orbit_camera(12.5, 0.0, 1.0)) and torch.equal(target_c2w, orbit_path(3, 12.5))
    assert (fov_deg, scale) == (40.0, 0.9)
    assert handed["distill"] == (40.0, 12.5, 0.9, 2)
    cameras, size, *stored = handed["render"]
    assert (cameras.fov_deg, cameras.elevation_deg, size, *stored) == (40.0, 12.5, 16, 40.0, 12.5)
    assert torch.equal(cameras.target_c2w, orbit_path(3, 12.5))
    record = json.loads((tmp_path / "o" / "run.json").read_text())["settings"]
    assert (record["camera"]["fov_deg"], record["camera"]["elevation_deg"], record["camera"]["target_c2w"]) == (
        40.0,
        12.5,
        [],
    )
    assert (record["scale"], record["anchor_count"], record["distill"]["anchors"]["count"]) == (0.9, 2, 2)
