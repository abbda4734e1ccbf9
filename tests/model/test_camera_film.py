"""The extra camera path ``ZeroNVSConfig.camera_film`` (issue 27): off in official models, an exact no-op
at zero, live once trained, carried through saving, guidance and the errors."""

import dataclasses

import pytest
import torch

from zeronvs_core.model import ZeroNVSModel, load_zeronvs, save_zeronvs
from zeronvs_core.stock_conditioning import stock_conditioning


@pytest.fixture(scope="module")
def film_model(tiny_model):
    model = ZeroNVSModel(dataclasses.replace(tiny_model.config, camera_film=True)).eval()
    missing, unexpected = model.load_state_dict(tiny_model.state_dict(), strict=False)
    assert sorted(missing) == ["camera_film.bias", "camera_film.weight"] and not unexpected
    return model


def _inputs(config, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    size, channels = config.latent_size, config.latent_channels
    return (
        torch.randn(batch, channels, size, size, generator=generator),
        torch.randn(batch, 1, config.clip_dim, generator=generator),
        torch.randn(batch, config.camera_dim, generator=generator),
        torch.randn(batch, channels, size, size, generator=generator),
    )


def _resnets(model):
    from diffusers.models.resnet import ResnetBlock2D

    return [module for module in model.unet.modules() if isinstance(module, ResnetBlock2D)]


def test_official_models_have_no_film_and_a_zero_film_changes_nothing(tiny_model, film_model):
    assert not tiny_model.config.camera_film and not hasattr(tiny_model, "camera_film")
    assert film_model.camera_film.out_features == sum(resnet.conv2.out_channels for resnet in _resnets(film_model))
    latents, clip, camera, concat = _inputs(tiny_model.config)
    with torch.no_grad():
        plain = tiny_model.eps(latents, 500, tiny_model.context(clip, camera), concat, guidance_scale=3.0)
        context = film_model.context(clip, camera)
        film = film_model.eps(latents, 500, context, concat, guidance_scale=3.0)
    assert context.shape == (2, 1, tiny_model.config.context_dim + tiny_model.config.camera_dim)
    assert torch.equal(context[:, 0, -tiny_model.config.camera_dim :], camera)  # T rides behind the token
    torch.testing.assert_close(film, plain, rtol=0, atol=1e-5)


def test_a_trained_film_scales_each_resnet_output_by_one_plus_w_t_plus_b(film_model):
    latents, clip, camera, concat = _inputs(film_model.config, seed=1)
    first = _resnets(film_model)[0]
    outputs = []
    handle = first.register_forward_hook(lambda module, inputs, output: outputs.append(output))  # after the FiLM
    try:
        with torch.no_grad():
            film_model.camera_film.bias.fill_(1.0)
            film_model(latents, 300, clip, camera, concat)  # scale 1 + 0 T + 1 = 2 everywhere
            film_model.camera_film.weight.normal_(generator=torch.Generator().manual_seed(0))
            turned = film_model(latents, 300, clip, camera, concat)
            mirrored = film_model(latents, 300, clip, -camera, concat)
            weight = film_model.camera_film.weight[: first.conv2.out_channels].clone()
    finally:
        handle.remove()
        with torch.no_grad():
            film_model.camera_film.weight.zero_()
            film_model.camera_film.bias.zero_()
    # the first block gets the same input in every call, so its outputs differ by their scales alone
    expected = outputs[0] / 2.0 * (2.0 + camera @ weight.T)[:, :, None, None]
    torch.testing.assert_close(outputs[1], expected, rtol=1e-4, atol=1e-5)
    assert (turned - mirrored).abs().max() > 1e-2  # the camera's sign now reaches the prediction


def test_film_survives_saving_and_refuses_the_stock_path_and_bare_contexts(film_model, tmp_path):
    with torch.no_grad():
        film_model.camera_film.weight.normal_(generator=torch.Generator().manual_seed(2))
    try:
        save_zeronvs(film_model, tmp_path / "film.safetensors", dtype=torch.float32)
        loaded = load_zeronvs(tmp_path / "film.safetensors")
        assert loaded.config.camera_film
        torch.testing.assert_close(loaded.camera_film.weight, film_model.camera_film.weight)
        latents, clip, camera, concat = _inputs(film_model.config)
        bare = torch.randn(2, 1, film_model.config.context_dim)
        with pytest.raises(ValueError, match=r"context must be \[B,1,83\]"):
            film_model.eps(latents, 10, bare, concat)
        with pytest.raises(RuntimeError, match="only through ZeroNVSModel.eps"):
            film_model.unet(torch.cat([latents, concat], 1), torch.tensor([10, 10]), encoder_hidden_states=bare)
        image = torch.rand(1, 3, film_model.config.resolution, film_model.config.resolution)
        with pytest.raises(ValueError, match="camera_film path"):
            stock_conditioning(film_model, image, torch.eye(4)[None], torch.eye(4)[None], 50.0, 1.0)
    finally:
        with torch.no_grad():
            film_model.camera_film.weight.zero_()
