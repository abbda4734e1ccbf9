"""Save Mesh: the node's file is ``export_mesh``'s for the same scene and options, its path is what core
Preview 3D opens (relative to the output folder), progress is reported, and bad options write no file."""

import pytest
import torch

from zeronvs_core.mesh import export_mesh, half_opaque_density
from zeronvs_core.nerf.field import FieldConfig, GridConfig
from zeronvs_core.nerf.ray_sampling import RaySettings
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.render import RenderSettings

SMALL = FieldConfig(grid=GridConfig(4, 2, 12, 4, 2.0), proposal_grid=GridConfig(2, 2, 10, 4, 2.0))
SETTINGS = RenderSettings(RaySettings(samples=4, proposal_samples=4), fov_deg=45.0, elevation_deg=20.0)


@pytest.fixture
def scene(comfy):
    """A fresh scene: the official density blob around the origin (5.0 at the centre) plus a small random MLP."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        scene = Scene(SMALL)
    return comfy.pack.types.DistilledScene(scene.eval(), SETTINGS)


def options(**changes):
    base = {"format": "glb", "resolution": 16, "threshold": 2.5, "region": "foreground", "half_size": 0.6}
    return {"filename_prefix": "zeronvs/mesh", **base, **changes}


@pytest.mark.parametrize("fmt", ["glb", "obj", "ply"])
def test_the_file_is_export_mesh_output_and_its_path_is_for_preview_3d(comfy, scene, tmp_path, fmt):
    result = comfy.classes["ZeroNVS_SaveMesh"].execute(scene=scene, **options(format=fmt))
    (mesh_path,) = result.args
    assert mesh_path == f"zeronvs/mesh_00001_.{fmt}"
    assert result.ui == {"3d": [{"filename": f"mesh_00001_.{fmt}", "subfolder": "zeronvs", "type": "output"}]}
    expected = export_mesh(scene.scene, tmp_path / f"m.{fmt}", 16, 2.5, "foreground", 0.6, SETTINGS)
    assert expected.faces > 100
    assert (comfy.home / "output" / mesh_path).read_bytes() == expected.path.read_bytes()
    # 16^3 grid points in one chunk, then the surface: two steps, every one through ComfyUI's bar.
    assert [(step, total) for step, total, _ in comfy.utils.UPDATES] == [(1, 2), (2, 2)]


def test_zero_threshold_is_the_scene_default_and_the_counter_advances(comfy, scene, tmp_path):
    node = comfy.classes["ZeroNVS_SaveMesh"]
    node.execute(scene=scene, **options(format="ply"))
    (mesh_path,) = node.execute(scene=scene, **options(threshold=0.0, region="scene", resolution=33, format="ply")).args
    assert mesh_path == "zeronvs/mesh_00002_.ply"
    assert half_opaque_density(SETTINGS) == pytest.approx(1.387, abs=1e-3)
    expected = export_mesh(scene.scene, tmp_path / "m.ply", 33, None, "scene", 0.6, SETTINGS)
    assert expected.threshold == half_opaque_density(SETTINGS) and expected.faces > 100
    assert (comfy.home / "output" / mesh_path).read_bytes() == expected.path.read_bytes()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 1e6}, "no surface: the threshold 1e+06 is above every density in the foreground region"),
        ({"format": "stl"}, "format must be one of ['glb', 'obj', 'ply'], got 'stl'"),
        ({"region": "all"}, "region must be one of ['foreground', 'scene'], got 'all'"),
    ],
)
def test_bad_options_raise_one_clear_error_and_write_nothing(comfy, scene, changes, message):
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("(", r"\(").replace("+", r"\+")):
        comfy.execute("ZeroNVS_SaveMesh", scene=scene, **options(**changes))
    assert list((comfy.home / "output").rglob("*.*")) == []


def test_interrupt_stops_the_export_before_any_file(comfy, scene):
    comfy.model_management.interrupt_current_processing(True)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        comfy.execute("ZeroNVS_SaveMesh", scene=scene, **options())
    assert list((comfy.home / "output").rglob("*.*")) == []


def test_the_region_options_are_the_librarys(comfy):
    from zeronvs_core.mesh import REGIONS

    schema = comfy.classes["ZeroNVS_SaveMesh"].define_schema()
    (region,) = [item for item in schema.inputs if item.id == "region"]
    assert list(region.options) == list(REGIONS)
