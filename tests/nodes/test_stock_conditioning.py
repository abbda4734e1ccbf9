"""ZeroNVS Conditioning (for ComfyUI's stock KSampler): its tensors are the official conditioning of the
tiny model, and routed as ComfyUI's Zero-1-to-3 model class routes them (``cc_projection`` on inputs whose
width is not the context width; the zero negative passed through) they give the Sampler's guided noise."""

import pytest
import torch

from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_path
from zeronvs_core.conditioning import encode_camera
from zeronvs_core.images import prepare_image
from zeronvs_core.sampling import view_conditioning


@pytest.fixture
def conditioned(comfy, photo):
    (handle,) = comfy.execute(
        "ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="cpu", precision="fp32"
    )
    cameras = CameraSet(50.0, 20.0, orbit_path(3, 20.0, 1.0, 0.0, 360.0))
    outputs = comfy.execute("ZeroNVS_Conditioning", model=handle, image=photo, cameras=cameras, scale=0.7)
    return handle.ready(), photo, cameras, outputs


def test_positive_is_clip_embedding_and_camera_vector_with_the_vae_latent(conditioned):
    model, photo, cameras, (positive, negative, latent) = conditioned
    ((cross_attn, extras),) = positive
    config = model.config
    assert cross_attn.shape == (3, 1, config.clip_dim + config.camera_dim) and cross_attn.device.type == "cpu"
    image_pm1 = prepare_image(photo.permute(0, 3, 1, 2), config.resolution) * 2 - 1
    with torch.no_grad():
        clip = model.clip_embedding(image_pm1)
        concat = model.concat_latent(image_pm1)
    camera = encode_camera(cameras.target_c2w, cameras.input_c2w.expand(3, 4, 4), 50.0, config.camera_mode, 0.7)
    torch.testing.assert_close(cross_attn[:, :, : config.clip_dim], clip.expand(3, 1, -1), rtol=0, atol=1e-6)
    torch.testing.assert_close(cross_attn[:, 0, config.clip_dim :], camera.float(), rtol=0, atol=1e-6)
    assert list(extras) == ["concat_latent_image"]
    torch.testing.assert_close(extras["concat_latent_image"], concat.expand(3, -1, -1, -1), rtol=0, atol=1e-6)
    ((zeros, negative_extras),) = negative
    assert zeros.shape == (3, 1, model.cc_projection.out_features) and not zeros.any()
    assert negative_extras["concat_latent_image"].shape == concat.expand(3, -1, -1, -1).shape
    assert not negative_extras["concat_latent_image"].any()
    assert list(latent) == ["samples"] and latent["samples"].shape == (3, 4, 32, 32) and not latent["samples"].any()


def test_routed_as_comfyui_routes_them_they_give_the_samplers_guided_noise(conditioned):
    model, photo, cameras, (positive, negative, _) = conditioned
    ((cross_attn, extras),) = positive
    ((zeros, negative_extras),) = negative
    width = model.cc_projection.out_features

    def comfy_context(x):  # Stable_Zero123.extra_conds: project unless the width is already the context's
        return x if x.shape[-1] == width else model.cc_projection(x)

    generator = torch.Generator().manual_seed(0)
    noisy = torch.randn(3, 4, 32, 32, generator=generator)
    t = torch.tensor([999, 500, 20])
    with torch.no_grad():
        eps_c = model._unet(noisy, t, comfy_context(cross_attn), extras["concat_latent_image"])
        eps_u = model._unet(noisy, t, comfy_context(zeros), negative_extras["concat_latent_image"])
        clip, camera, concat = view_conditioning(
            model, photo.permute(0, 3, 1, 2), cameras.input_c2w, cameras.target_c2w, 50.0, 0.7
        )
        expected = model.eps(noisy, t, model.context(clip, camera), concat, guidance_scale=3.0)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(eps_u + 3.0 * (eps_c - eps_u), expected, rtol=0, atol=1e-5)


def test_a_batch_of_photos_is_one_clear_error(comfy, photo):
    (handle,) = comfy.execute(
        "ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="cpu", precision="fp32"
    )
    cameras = CameraSet(50.0, 20.0, orbit_path(2, 20.0, 1.0, 0.0, 360.0))
    with pytest.raises(ValueError, match="^image: one photo is expected, got a batch of 2 images"):
        comfy.execute(
            "ZeroNVS_Conditioning", model=handle, image=photo.expand(2, -1, -1, -1), cameras=cameras, scale=0.7
        )
