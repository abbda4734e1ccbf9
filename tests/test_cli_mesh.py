"""``zeronvs mesh``: the file equals the library's for the same scene and options, the point cloud too, and
every bad input is one ``zeronvs: error:`` line with exit status 2 and no file."""

import pytest
import torch

from zeronvs_core.cameras import orbit_path
from zeronvs_core.cli import main
from zeronvs_core.mesh import export_mesh
from zeronvs_core.nerf.field import FieldConfig, GridConfig
from zeronvs_core.nerf.ray_sampling import RaySettings
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.point_cloud import export_point_cloud
from zeronvs_core.render import RenderSettings, load_scene, render_path, save_scene

SMALL = FieldConfig(grid=GridConfig(4, 2, 12, 4, 2.0), proposal_grid=GridConfig(2, 2, 10, 4, 2.0))
SETTINGS = RenderSettings(RaySettings(samples=4, proposal_samples=4), fov_deg=45.0, elevation_deg=20.0)


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    """A fresh scene (its density is the official blob around the origin, 5.0 at the centre, plus the small
    random MLP), saved as 'zeronvs orbit' saves it."""
    torch.manual_seed(0)
    return save_scene(Scene(SMALL), tmp_path_factory.mktemp("scene") / "scene.safetensors", SETTINGS)


@pytest.mark.parametrize("suffix", [".glb", ".ply", ".obj"])
def test_mesh_writes_what_export_mesh_writes(scene_file, tmp_path, capsys, suffix):
    out = tmp_path / f"cli{suffix}"
    options = ["--resolution", "20", "--threshold", "2.5", "--half-size", "0.6"]
    assert main(["mesh", str(scene_file), "--out", str(out), "--device", "cpu", *options]) == 0
    scene, settings = load_scene(scene_file)
    lib = tmp_path / f"lib{suffix}"
    stats = export_mesh(scene, lib, resolution=20, threshold=2.5, half_size=0.6, settings=settings)
    assert stats.faces > 100
    assert out.read_bytes() == stats.path.read_bytes()
    printed = capsys.readouterr().out
    assert f"wrote {out}: {stats.vertices} vertices, {stats.faces} faces at density 2.5 (grid 20^3" in printed


def test_mesh_default_threshold_comes_from_the_scene_settings(scene_file, tmp_path, capsys):
    out = tmp_path / "m.ply"
    assert main(["mesh", str(scene_file), "--out", str(out), "--resolution", "12", "--device", "cpu"]) == 0
    # 4 samples over near 0.5, far 1000: ln 2 / ((2 - 0.001) / 4) = 1.387
    assert "at density 1.387 " in capsys.readouterr().out


def test_points_writes_what_export_point_cloud_writes(scene_file, tmp_path, capsys):
    out = tmp_path / "cli.ply"
    args = ["mesh", str(scene_file), "--out", str(out), "--points", "--frames", "3", "--size", "16"]
    assert main([*args, "--device", "cpu"]) == 0
    scene, settings = load_scene(scene_file)
    c2w = orbit_path(3, 20.0)
    frames = render_path(scene, c2w, 45.0, 16, settings)
    stats = export_point_cloud(frames, c2w, 45.0, tmp_path / "lib.ply")
    assert stats.points > 100 and out.read_bytes() == stats.path.read_bytes()
    assert f"wrote {out}: {stats.points} points" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--threshold", "1e6"], "no surface: the threshold 1e+06 is above every density in the foreground region"),
        (["--resolution", "1"], "--resolution must be >= 2 (grid points per axis), got 1"),
        (["--threshold", "-1"], "threshold must be a positive density (per world unit), got -1.0"),
        (["--out-suffix", ".stl"], "a mesh is written as .glb, .ply, .obj (from the file name), got "),
        (["--out-suffix", ".glb", "--points"], "--points writes a .ply point cloud, got --out "),
        (["--scene", "missing.safetensors"], "no weight file at"),
        (["--half-size", "0"], "zeronvs: error: --half-size must be a positive size in world units, got 0.0"),
        (["--out-suffix", ".ply", "--points", "--min-opacity", "0"], "zeronvs: error: --min-opacity must be in (0, 1]"),
    ],
)
def test_bad_input_is_one_error_line_exit_2_and_no_file(scene_file, tmp_path, capsys, options, message):
    suffix, scene = ".glb", str(scene_file)
    if options[0] == "--out-suffix":
        suffix, options = options[1], options[2:]
    if options[:1] == ["--scene"]:
        scene, options = str(tmp_path / options[1]), []
    out = tmp_path / f"m{suffix}"
    assert main(["mesh", scene, "--out", str(out), "--resolution", "12", "--device", "cpu", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronvs: error: ") and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_the_regions_and_defaults_are_the_librarys_and_load_without_torch():
    import subprocess
    import sys

    from zeronvs_core import mesh, mesh_options
    from zeronvs_core.cli import build_parser

    assert mesh.REGIONS is mesh_options.REGIONS == ("foreground", "scene")
    parsed = build_parser().parse_args(["mesh", "field.safetensors", "--out", "m.glb"])
    assert (parsed.region, parsed.resolution, parsed.half_size) == ("foreground", 256, 0.5)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["mesh", "field.safetensors", "--out", "m.glb", "--region", "all"])
    code = "import sys, zeronvs_core.mesh_options; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
