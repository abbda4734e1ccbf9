"""Orbit rendering, frame and video writing, scene files."""

import imageio.v3 as iio
import pytest
import torch

from zeronvs_core.cameras import orbit_camera
from zeronvs_core.distill import PRESETS
from zeronvs_core.model import CheckpointError
from zeronvs_core.nerf.field import FieldConfig, GridConfig
from zeronvs_core.nerf.ray_sampling import RaySettings
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.render import (
    RenderSettings,
    depth_to_image,
    load_scene,
    render_orbit,
    render_path,
    save_scene,
    settings_for,
    write_frames,
    write_video,
)

SMALL = FieldConfig(grid=GridConfig(4, 2, 12, 4, 2.0), proposal_grid=GridConfig(2, 2, 10, 4, 2.0))
FAST = RenderSettings(RaySettings(proposal_samples=8, samples=8))


@pytest.fixture(scope="module")
def scene():
    torch.manual_seed(0)
    return Scene(SMALL).eval()


def test_orbit_starts_at_the_input_camera(scene):
    frames = render_orbit(scene, 20.0, 50.0, n_views=4, size=12, settings=FAST)
    assert frames.rgb.shape == (4, 3, 12, 12) and frames.depth.shape == frames.opacity.shape == (4, 1, 12, 12)
    first = render_path(scene, orbit_camera(20.0, 0.0, 1.0), 50.0, 12, FAST)
    torch.testing.assert_close(frames.rgb[:1], first.rgb)
    assert frames.rgb.min() >= 0 and frames.rgb.max() <= 1 and (frames.depth >= 0).all()
    # the blob density makes the centre opaque: depth about 1 - 0.5 from a camera at distance 1
    assert frames.opacity[:, 0, 6, 6].min() > 0.9
    assert 0.3 < frames.depth[0, 0, 6, 6].item() < 1.0


def test_frames_video_and_depth_images(scene, tmp_path):
    frames = render_orbit(scene, 20.0, 50.0, n_views=3, size=16, settings=FAST)
    paths = write_frames(frames.rgb, tmp_path / "frames")
    assert [p.name for p in paths] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    assert iio.imread(paths[0]).shape == (16, 16, 3)
    video = write_video(frames.rgb, tmp_path / "orbit.mp4", fps=10)
    assert iio.imread(video, index=None).shape[0] == 3
    depth = depth_to_image(frames.depth)
    assert depth.shape == (3, 1, 16, 16) and depth.max() <= 1 and depth.min() >= 0
    write_video(depth, tmp_path / "depth.mp4")
    with pytest.raises(ValueError, match=r"\[F,C,H,W\] with C = 1 or 3"):
        write_frames(torch.zeros(2, 16, 16), tmp_path)


def test_scene_file_round_trip(scene, tmp_path):
    settings = RenderSettings(
        RaySettings(near=0.25, far=100.0, proposal_samples=8, samples=8), background=(0.0, 0.0, 0.0)
    )
    path = save_scene(scene, tmp_path / "scene.safetensors", settings)
    loaded, loaded_settings = load_scene(path)
    assert loaded_settings == settings and loaded.config == scene.config
    a = render_path(scene, orbit_camera(20.0, 30.0, 1.0), 50.0, 8, settings)
    b = render_path(loaded, orbit_camera(20.0, 30.0, 1.0), 50.0, 8, settings)
    assert torch.equal(a.rgb, b.rgb)


def test_scene_files_keep_mains_header_layout(scene, tmp_path):
    """The render settings header is flat, as main wrote it before ``RaySettings``: files of either read alike."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    settings = RenderSettings(RaySettings(0.25, 100.0, 8, 12), (0.0, 0.5, 1.0), fov_deg=50.0, elevation_deg=20.0)
    path = save_scene(scene, tmp_path / "scene.safetensors", settings)
    with safe_open(str(path), "pt") as handle:
        header = handle.metadata()["render_settings"]
        state = {key: handle.get_tensor(key) for key in handle.keys()}
        field_config = handle.metadata()["field_config"]
    old = {"near": 0.25, "far": 100.0, "proposal_samples": 8, "samples": 12, "background": [0.0, 0.5, 1.0]}
    old.update(fov_deg=50.0, elevation_deg=20.0)
    assert header == json.dumps(old)  # byte for byte what main wrote
    written_by_main = tmp_path / "main.safetensors"
    metadata = {"format": "zeronvs-scene", "field_config": field_config, "render_settings": json.dumps(old)}
    save_file(state, str(written_by_main), metadata)
    assert load_scene(written_by_main)[1] == settings


def test_bad_scene_files_and_cameras(scene, tiny_files, tmp_path):
    with pytest.raises(CheckpointError, match="not a ZeroNVS scene file"):
        load_scene(tiny_files[0])
    path = save_scene(scene, tmp_path / "scene.safetensors")
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    metadata["field_config"] = metadata["field_config"].replace('"n_levels": 4', '"n_levels": 5')
    other = tmp_path / "other.safetensors"
    save_file(state, str(other), metadata)
    with pytest.raises(CheckpointError, match="do not match its field config"):
        load_scene(other)
    with pytest.raises(ValueError, match="must end in .safetensors"):
        save_scene(scene, tmp_path / "scene.pt")
    skewed = orbit_camera(20.0, 0.0, 1.0)
    skewed[0, 0, 0] = 3.0
    with pytest.raises(ValueError, match="c2w"):
        render_path(scene, skewed, 50.0, 8, FAST)
    with pytest.raises(ValueError, match="fov_deg"):
        render_path(scene, orbit_camera(20.0, 0.0, 1.0), 190.0, 8, FAST)


def test_input_ray_offset_moves_the_rays(scene):
    c2w, background = orbit_camera(20.0, 0.0, 1.0), torch.zeros(3)
    plain = scene.render(c2w, 50.0, 8, 8, background, RaySettings(0.5, 100.0, 8, 8))
    zero = scene.render(c2w, 50.0, 8, 8, background, RaySettings(0.5, 100.0, 8, 8), ray_offset=torch.zeros(2, 3))
    moved = scene.render(
        c2w, 50.0, 8, 8, background, RaySettings(0.5, 100.0, 8, 8), ray_offset=torch.full((2, 3), 0.05)
    )
    torch.testing.assert_close(plain.rgb, zero.rgb, atol=1e-6, rtol=0)  # renormalising moves the last bit
    assert (plain.depth - moved.depth).abs().max() > 1e-3


def test_settings_for_a_distillation_recipe():
    smoke = settings_for(PRESETS["cpu_smoke"], 50.0, 20.0)
    assert smoke.rays == RaySettings(0.5, 1000.0, 16, 16)
    assert (smoke.background, smoke.fov_deg, smoke.elevation_deg) == ((0.5, 0.5, 0.5), 50.0, 20.0)
    assert settings_for(PRESETS["official_dtu"], 50.0, 20.0).background == (0.0, 0.0, 0.0)


def test_render_path_size_is_square_or_height_by_width(scene):
    camera = orbit_camera(20.0, 0.0, 1.0)
    assert render_path(scene, camera, 50.0, 6, FAST).rgb.shape == (1, 3, 6, 6)
    wide = render_path(scene, camera, 50.0, (4, 7), FAST)
    assert wide.rgb.shape == (1, 3, 4, 7) and wide.depth.shape == wide.opacity.shape == (1, 1, 4, 7)
    with pytest.raises(ValueError, match=r"size must be positive pixels, an int or \(height, width\), got \(0, 7\)"):
        render_path(scene, camera, 50.0, (0, 7), FAST)
