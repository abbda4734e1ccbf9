"""Orbit Renderer, Save Orbit Video, Save Scene and Load Scene on a small random scene."""

import pytest
import torch

from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_path
from zeronvs_core.distill import PRESETS
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.render import settings_for


@pytest.fixture
def scene(comfy):
    config = PRESETS["cpu_smoke"]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        scene = Scene(config.field)
    return comfy.pack.types.DistilledScene(scene.eval(), settings_for(config, 50.0, 20.0))


def test_frames_depth_and_opacity_with_previews(comfy, scene):
    cameras = CameraSet(50.0, 20.0, orbit_path(3, 20.0))
    frames, depth, opacity = comfy.execute("ZeroNVS_OrbitRenderer", scene=scene, cameras=cameras, size=12)
    assert frames.shape == depth.shape == (3, 12, 12, 3) and opacity.shape == (3, 12, 12)
    assert all(image.device.type == "cpu" and image.dtype == torch.float32 for image in (frames, depth, opacity))
    assert [(step, total, preview[0]) for step, total, preview in comfy.utils.UPDATES] == [
        (i, 3, "JPEG") for i in (1, 2, 3)
    ]


def test_save_video_and_scene_then_load_the_scene(comfy, scene):
    result = comfy.classes["ZeroNVS_SaveOrbitVideo"].execute(
        images=torch.rand(4, 16, 16, 3), fps=8, filename_prefix="zeronvs/orbit"
    )
    saved = {"filename": "orbit_00001_.mp4", "subfolder": "zeronvs", "type": "output"}
    assert result.ui == {"images": [saved], "animated": (True,)}
    assert (comfy.home / "output" / "zeronvs" / "orbit_00001_.mp4").stat().st_size > 0
    (prefix,) = [item.default for item in comfy.classes["ZeroNVS_SaveScene"].define_schema().inputs[1:]]
    assert prefix == "zeronvs/scene"
    saved_scene = comfy.classes["ZeroNVS_SaveScene"].execute(scene=scene, filename_prefix=prefix)
    assert saved_scene.ui == {"text": ("saved to output/zeronvs/scene_00001_.safetensors",)}
    assert (comfy.home / "output" / "zeronvs" / "scene_00001_.safetensors").is_file()
    (item,) = comfy.classes["ZeroNVS_LoadScene"].define_schema().inputs
    assert item.options == ["zeronvs/scene_00001_.safetensors [output]"]
    with pytest.raises(ValueError, match="scene_file must be one of"):
        comfy.execute("ZeroNVS_LoadScene", scene_file="../scene_00001_.safetensors [output]")
    (loaded,) = comfy.execute("ZeroNVS_LoadScene", scene_file=item.options[0])
    assert loaded.settings == scene.settings
    cameras = CameraSet(50.0, 20.0, orbit_path(1, 20.0))
    before, after = (
        comfy.execute("ZeroNVS_OrbitRenderer", scene=s, cameras=cameras, size=8)[0] for s in (scene, loaded)
    )
    torch.testing.assert_close(after, before)


def test_load_scene_lists_files_saved_under_the_old_field_prefix(comfy, scene):
    """Scenes written as ``zeronvs/field_*`` before the rename are the same format: Load Scene offers and
    loads them."""
    comfy.classes["ZeroNVS_SaveScene"].execute(scene=scene, filename_prefix="zeronvs/field")
    comfy.classes["ZeroNVS_SaveScene"].execute(scene=scene, filename_prefix="zeronvs/scene")
    (item,) = comfy.classes["ZeroNVS_LoadScene"].define_schema().inputs
    assert item.options == ["zeronvs/field_00001_.safetensors [output]", "zeronvs/scene_00001_.safetensors [output]"]
    (loaded,) = comfy.execute("ZeroNVS_LoadScene", scene_file=item.options[0])
    assert loaded.settings == scene.settings
    for name, value in scene.scene.state_dict().items():
        torch.testing.assert_close(loaded.scene.state_dict()[name], value, rtol=0, atol=0)
