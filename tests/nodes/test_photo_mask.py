"""Transparent photos through ComfyUI: LoadImage's MASK (1 - alpha) on the Sampler, Anchor Generator and
SDS Distiller reaches the model as the command line's read of the same file (composited on white)."""

import numpy as np
import pytest
import torch
from PIL import Image

import zeronvs_core.sampling
from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_path
from zeronvs_core.cli import main
from zeronvs_core.images import prepare_image, read_image

PHOTO_NODES = ("ZeroNVS_Sampler", "ZeroNVS_AnchorGenerator", "ZeroNVS_SDSDistiller")


@pytest.fixture
def cutout(tmp_path):
    """A 40x30 RGBA PNG: colour gradients, alpha 0 on the left third, 0.2..1 ramps elsewhere."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(30, 40, 4), dtype=np.uint8)
    pixels[:, :13, 3] = 0
    pixels[:, 13:, 3] = np.linspace(51, 255, 27).astype(np.uint8)
    path = tmp_path / "cutout.png"
    Image.fromarray(pixels, "RGBA").save(path)
    return path


def load_image_as_comfyui(path):
    """ComfyUI 0.3.64's LoadImage (nodes.py): IMAGE = RGB / 255, MASK = 1 - alpha / 255."""
    image = Image.open(path)
    rgb = torch.from_numpy(np.array(image.convert("RGB")).astype(np.float32) / 255.0)[None]
    mask = 1.0 - torch.from_numpy(np.array(image.getchannel("A")).astype(np.float32) / 255.0)
    return rgb, mask[None]


@pytest.fixture
def model_inputs(comfy):
    (model,) = comfy.execute("ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="cpu", precision="fp32")
    return {"model": model, "cameras": CameraSet(52.55, 31.0, orbit_path(1, 31.0)), "scale": 0.7, "seed": 0}


def _record_model_input(monkeypatch) -> list:
    seen = []

    def recording(image, resolution):
        seen.append(prepare_image(image, resolution))
        return seen[-1]

    monkeypatch.setattr(zeronvs_core.sampling, "prepare_image", recording)
    return seen


def test_sampler_node_and_cli_give_the_model_the_same_pixels(comfy, model_inputs, cutout, tmp_path, monkeypatch):
    seen = _record_model_input(monkeypatch)
    args = ["views", str(cutout), "--model", str(comfy.home / "models/zeronvs/tiny-zeronvs.safetensors")]
    assert main([*args, "--count", "1", "--steps", "1", "--out", str(tmp_path / "cli")]) == 0
    image, mask = load_image_as_comfyui(cutout)
    comfy.execute("ZeroNVS_Sampler", **model_inputs, image=image, mask=mask, steps=1, guidance_scale=3.0, eta=1.0)
    cli_input, node_input = seen
    # Equal up to float32 rounding: ComfyUI stores 1 - a and the node takes 1 - (1 - a) (one ulp of 1.0)
    assert (node_input - cli_input).abs().max() <= 2**-23
    assert torch.all(cli_input[..., :, :8] == 1.0)  # the fully transparent strip is white, not black
    without_mask = prepare_image(image.permute(0, 3, 1, 2), cli_input.shape[-1])
    assert (without_mask - cli_input).abs().max() > 0.5  # without the mask the cut-out's background leaks in


@pytest.mark.parametrize("node_id", PHOTO_NODES)
def test_every_photo_node_takes_the_mask_to_the_library(comfy, model_inputs, cutout, monkeypatch, node_id):
    """Each node hands the library the RGBA photo the command line reads from the file."""
    import importlib

    target = {
        "ZeroNVS_Sampler": ("zeronvs_core.sampling", "sample_views", 1),
        "ZeroNVS_AnchorGenerator": ("zeronvs_core.anchors", "make_anchor_views", 1),
        "ZeroNVS_SDSDistiller": ("zeronvs_core.distill", "distill", 1),
    }[node_id]
    module, name, position = target
    photos = []

    class Stop(Exception):
        pass

    def capture(*args, **kwargs):
        photos.append(args[position])
        raise Stop

    monkeypatch.setattr(importlib.import_module(module), name, capture)
    extra = {
        "ZeroNVS_Sampler": {"steps": 1, "guidance_scale": 3.0, "eta": 1.0},
        "ZeroNVS_AnchorGenerator": {"count": 1, "steps": 1, "guidance_scale": 3.0},
        "ZeroNVS_SDSDistiller": {
            "preset": "cpu_smoke",
            "steps": 1,
            "guidance_scale": 0.0,
            "anchoring": False,
            "memory_budget_gib": 0.0,
        },
    }[node_id]
    image, mask = load_image_as_comfyui(cutout)
    with pytest.raises(Stop):
        comfy.execute(node_id, **model_inputs, image=image, mask=mask, **extra)
    expected = read_image(cutout)
    assert photos[0].shape == expected.shape == (1, 4, 30, 40)
    assert torch.allclose(photos[0], expected, atol=1e-7, rtol=0)


def test_opaque_mask_and_wrong_size(comfy, model_inputs, photo):
    from importlib import import_module

    images = import_module(comfy.pack.__name__ + ".images")
    assert torch.equal(images.photo_from_image(photo, torch.zeros(1, 64, 64)), photo.permute(0, 3, 1, 2))
    with pytest.raises(ValueError, match=r"mask must be one MASK \[1,H,W\] of the image's size 48x64"):
        images.photo_from_image(photo, torch.ones(1, 30, 30))
