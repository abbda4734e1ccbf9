"""Camera sets: typed pose lists, the one camera value (defaults, checks) and the command building it."""

import dataclasses
import inspect
import json

import pytest
import torch

from zeronvs_core import jobs
from zeronvs_core.camera_set import CameraSet, parse_poses
from zeronvs_core.cameras import orbit_camera, orbit_path
from zeronvs_core.cli import main
from zeronvs_core.wild_defaults import ELEVATION_DEG, FOV_DEG, SCALE


def test_pose_lists_mix_orbit_triples_and_matrices():
    matrix = orbit_camera(5.0, 30.0, 2.0)
    text = "# a comment\n\n90 31 1\n" + ", ".join(f"{v:.9f}" for v in matrix.flatten().tolist()) + "\n"
    torch.testing.assert_close(parse_poses(text), torch.cat([orbit_camera(31.0, 90.0, 1.0), matrix]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2", "line 1: expected"),
        ("# only a comment", "no camera"),
        ("0 0 1\n0 0 -1", "line 2: distance must be positive"),
        ("0 0 1\nx 0 1", "line 2: expected"),
        (" ".join(["2"] * 16), "poses line 1"),
    ],
)
def test_bad_pose_lists(text, message):
    with pytest.raises(ValueError, match=message):
        parse_poses(text)


def test_camera_set_input_camera_and_checks():
    cameras = CameraSet(50, 20, orbit_path(3, 20.0).double())
    assert len(cameras) == 3 and cameras.target_c2w.dtype == torch.float32
    torch.testing.assert_close(cameras.input_c2w, orbit_camera(20.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="fov_deg"):
        CameraSet(180.0, 20.0, orbit_path(1, 20.0))
    with pytest.raises(ValueError, match="elevation_deg"):
        CameraSet(50.0, -90.0, orbit_path(1, 20.0))
    with pytest.raises(ValueError, match="target_c2w"):
        CameraSet(50.0, 20.0, 2 * orbit_path(1, 20.0))


# --- the one camera value: defaults, checks, the CLI's and the jobs' ---------------------------------


def test_defaults_are_the_official_in_the_wild_values():
    cameras = CameraSet()
    assert (cameras.fov_deg, cameras.elevation_deg, len(cameras)) == (FOV_DEG, ELEVATION_DEG, 0)
    assert (FOV_DEG, ELEVATION_DEG) == (52.55, 31.0)  # launch_inference.sh: default_fovy_deg, default_elevation_deg
    torch.testing.assert_close(cameras.input_c2w, orbit_camera(31.0, 0.0, 1.0))
    orbit = CameraSet.orbit(8)
    assert (orbit.fov_deg, orbit.elevation_deg) == (FOV_DEG, ELEVATION_DEG)
    assert torch.equal(orbit.target_c2w, orbit_path(8, 31.0))
    torch.testing.assert_close(orbit.target_c2w[:1], orbit.input_c2w)  # target 0 is the input camera
    torch.testing.assert_close(CameraSet.orbit(2, 40.0, -10.0, 2.0).target_c2w[1], orbit_camera(-10.0, 180.0, 2.0)[0])


def test_the_value_is_frozen_and_with_targets_checks_again():
    cameras = CameraSet.orbit(3, 50.0, 20.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cameras.fov_deg = 40.0
    moved = cameras.with_targets(orbit_path(2, 5.0).double())
    assert (moved.fov_deg, moved.elevation_deg, len(moved), moved.target_c2w.dtype) == (50.0, 20.0, 2, torch.float32)
    with pytest.raises(ValueError, match=r"^target_c2w contains NaN or inf \(camera 1\)$"):
        cameras.with_targets(torch.cat([orbit_path(1, 5.0), torch.full((1, 4, 4), float("nan"))]))


def test_the_record_rebuilds_the_same_value():
    cameras = CameraSet.orbit(3, 50.0, 20.0)
    record = json.loads(json.dumps(cameras.to_record()))
    again = CameraSet(record["fov_deg"], record["elevation_deg"], torch.tensor(record["target_c2w"]))
    assert (again.fov_deg, again.elevation_deg) == (50.0, 20.0) and torch.equal(again.target_c2w, cameras.target_c2w)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CameraSet(float("nan")), "fov_deg must be a finite number, got nan"),
        (lambda: CameraSet("52.55"), "fov_deg must be a finite number, got '52.55'"),
        (lambda: CameraSet(0.0), "fov_deg must be in (0, 180) degrees, got 0.0"),
        (lambda: CameraSet(180.0), "fov_deg must be in (0, 180) degrees, got 180.0"),
        (lambda: CameraSet(elevation_deg=float("inf")), "elevation_deg must be a finite number, got inf"),
        (lambda: CameraSet(elevation_deg=True), "elevation_deg must be a finite number, got True"),
        (lambda: CameraSet(elevation_deg=90.0), "elevation_deg must be in (-90, 90) degrees, got 90.0"),
        (lambda: CameraSet(elevation_deg=-90.0), "elevation_deg must be in (-90, 90) degrees, got -90.0"),
        (lambda: CameraSet(target_c2w=torch.eye(4)), "target_c2w must have shape [N, 4, 4], got (4, 4)"),
        (lambda: CameraSet(target_c2w=2 * orbit_path(1, 20.0)), "target_c2w[0] bottom row must be [0, 0, 0, 1]"),
        (lambda: CameraSet(target_c2w=_scaled(orbit_path(2, 20.0))), "target_c2w[1] rotation is not orthonormal"),
        (lambda: CameraSet.orbit(0), "count must be at least 1, got 0"),
        (lambda: CameraSet.orbit(2.0), "count must be at least 1, got 2.0"),
        (lambda: CameraSet.orbit(2, distance=0.0), "distance must be positive, got 0.0"),
        (lambda: CameraSet.orbit(2, elevation_deg=float("nan")), "elevation_deg must be a finite number, got nan"),
    ],
)
def test_bad_values_give_one_error_naming_the_input(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert str(error.value).startswith(message), str(error.value)


def _scaled(c2w):
    c2w = c2w.clone()
    c2w[1, :3, :3] *= 1.1
    return c2w


def test_the_command_builds_the_jobs_value(monkeypatch, tmp_path):
    """``zeronvs views`` and ``zeronvs orbit`` hand the jobs the value a Python caller builds for the same
    flags, and with no camera flags the jobs' own defaults (the in-the-wild values)."""
    defaults = {name: inspect.signature(getattr(jobs, name)).parameters for name in ("novel_views", "orbit")}
    handed = {}
    for job in ("novel_views", "orbit"):
        monkeypatch.setattr(jobs, job, lambda *args, _job=job, **kwargs: handed.update({_job: kwargs}) or _RECORD)
    assert main(["views", "x.png", "--fov", "40", "--elevation", "12.5", "--count", "3", "--scale", "0.9"]) == 0
    assert main(["orbit", "x.png", "--fov", "40", "--elevation", "12.5", "--out", str(tmp_path)]) == 0
    _same(handed["novel_views"]["cameras"], CameraSet.orbit(3, 40.0, 12.5))
    _same(handed["orbit"]["cameras"], CameraSet(40.0, 12.5))
    assert handed["novel_views"]["scale"] == 0.9 and handed["orbit"]["scale"] == SCALE
    assert main(["views", "x.png"]) == 0 and main(["orbit", "x.png", "--out", str(tmp_path)]) == 0
    for name, parameters in defaults.items():
        _same(handed[name]["cameras"], parameters["cameras"].default)
        assert handed[name]["scale"] == parameters["scale"].default == SCALE
    _same(defaults["novel_views"]["cameras"].default, CameraSet.orbit(8))
    _same(defaults["orbit"]["cameras"].default, CameraSet())


_RECORD = {"outputs": {"grid": "g", "views": [], "orbit": "o", "depth": "d", "scene": "s"}, "seconds": {"total": 0}}


def _same(a: CameraSet, b: CameraSet) -> None:
    assert (a.fov_deg, a.elevation_deg) == (b.fov_deg, b.elevation_deg)
    assert torch.equal(a.target_c2w, b.target_c2w)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["views", "x.png", "--fov", "nan"], "zeronvs: error: --fov must be a finite number, got nan"),
        (
            ["orbit", "x.png", "--elevation", "-91"],
            "zeronvs: error: --elevation must be in (-90, 90) degrees, got -91.0",
        ),
        (["render", "s.safetensors", "--fov", "180"], "zeronvs: error: --fov must be in (0, 180) degrees, got 180.0"),
    ],
)
def test_the_command_says_its_flags_where_the_library_names_arguments(args, line, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == line + "\n"
    assert not (tmp_path / "out").exists()
