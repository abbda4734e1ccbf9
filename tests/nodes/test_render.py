"""Orbit Renderer, Save Orbit Video, Save Field and Load Field on a small random field."""

import pytest
import torch

from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_path
from zeronvs_core.distill import PRESETS
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.render import settings_for


@pytest.fixture
def field(comfy):
    config = PRESETS["cpu_smoke"]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        scene = Scene(config.field)
    return comfy.pack.types.Field(scene.eval(), settings_for(config, 50.0, 20.0))


def test_frames_depth_and_opacity_with_previews(comfy, field):
    cameras = CameraSet(50.0, 20.0, orbit_path(3, 20.0))
    frames, depth, opacity = comfy.execute("ZeroNVS_OrbitRenderer", field=field, cameras=cameras, size=12)
    assert frames.shape == depth.shape == (3, 12, 12, 3) and opacity.shape == (3, 12, 12)
    assert all(image.device.type == "cpu" and image.dtype == torch.float32 for image in (frames, depth, opacity))
    assert [(step, total, preview[0]) for step, total, preview in comfy.utils.UPDATES] == [
        (i, 3, "JPEG") for i in (1, 2, 3)
    ]


def test_save_video_and_field_then_load_the_field(comfy, field):
    result = comfy.classes["ZeroNVS_SaveOrbitVideo"].execute(
        images=torch.rand(4, 16, 16, 3), fps=8, filename_prefix="zeronvs/orbit"
    )
    saved = {"filename": "orbit_00001_.mp4", "subfolder": "zeronvs", "type": "output"}
    assert result.ui == {"images": [saved], "animated": (True,)}
    assert (comfy.home / "output" / "zeronvs" / "orbit_00001_.mp4").stat().st_size > 0
    saved_field = comfy.classes["ZeroNVS_SaveField"].execute(field=field, filename_prefix="zeronvs/field")
    assert saved_field.ui == {"text": ("saved to output/zeronvs/field_00001_.safetensors",)}
    assert (comfy.home / "output" / "zeronvs" / "field_00001_.safetensors").is_file()
    (item,) = comfy.classes["ZeroNVS_LoadField"].define_schema().inputs
    assert item.options == ["zeronvs/field_00001_.safetensors [output]"]
    with pytest.raises(ValueError, match="field_file must be one of"):
        comfy.execute("ZeroNVS_LoadField", field_file="../field_00001_.safetensors [output]")
    (loaded,) = comfy.execute("ZeroNVS_LoadField", field_file=item.options[0])
    assert loaded.settings == field.settings
    cameras = CameraSet(50.0, 20.0, orbit_path(1, 20.0))
    before, after = (
        comfy.execute("ZeroNVS_OrbitRenderer", field=f, cameras=cameras, size=8)[0] for f in (field, loaded)
    )
    torch.testing.assert_close(after, before)
