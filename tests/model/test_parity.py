"""Every tensor of the official tiny-model oracle, reproduced from the safetensors file and from a
Lightning-style ``.ckpt`` written from it, within the tolerances of ``tiny_official/README.md``."""

import pytest
import torch
from safetensors.torch import load_file

from zeronvs_core.conditioning import encode_camera
from zeronvs_core.model import load_zeronvs
from zeronvs_core.sampling import ddim_scheduler, sample_latents

ATOL = 1e-4  # clip / VAE / T / context / eps


@pytest.fixture(scope="module", params=["safetensors", "ckpt"])
def model(request, tiny_files, tmp_path_factory):
    weights, config = tiny_files
    if request.param == "safetensors":
        return load_zeronvs(weights, config=config)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    torch.save({"state_dict": load_file(weights), "global_step": 123, "epoch": 4}, path)
    return load_zeronvs(path, config=config)


def _close(actual, expected, atol=ATOL, rtol=0.0):
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol)


@torch.no_grad()
def test_clip_pixels_and_embedding(model, tiny_oracle):
    _close(model.clip_pixels(tiny_oracle["in_x_img"]), tiny_oracle["clip_pixel_values"])
    _close(model.clip_embedding(tiny_oracle["in_x_img"]), tiny_oracle["clip_emb"])
    _close(model.clip_embedding(tiny_oracle["in_x_img256"]), tiny_oracle["clip_emb_256"])


@torch.no_grad()
def test_vae_posterior_and_decode(model, tiny_oracle):
    posterior = model.vae.encode(tiny_oracle["in_x_img"]).latent_dist
    _close(posterior.mean, tiny_oracle["vae_posterior_mean"])
    _close(posterior.logvar, tiny_oracle["vae_posterior_logvar"])
    _close(model.concat_latent(tiny_oracle["in_x_img"]), tiny_oracle["vae_posterior_mean"])
    _close(model.decode(tiny_oracle["in_dec_latents"]), tiny_oracle["vae_decoded"])
    _close(model.vae.decode(tiny_oracle["in_dec_latents"]).sample, tiny_oracle["vae_decoded_raw"])


@torch.no_grad()
def test_embed_image_returns_clip_and_concat(model, tiny_oracle):
    clip, concat = model.embed_image(tiny_oracle["in_x_img"])
    _close(clip, tiny_oracle["clip_emb"])
    _close(concat, tiny_oracle["vae_posterior_mean"])


@torch.no_grad()
def test_camera_vector_and_context(model, tiny_oracle):
    camera = encode_camera(
        tiny_oracle["in_c2w_target"],
        tiny_oracle["in_c2w_cond"],
        tiny_oracle["in_fov_deg"],
        model.config.camera_mode,
        tiny_oracle["in_precomputed_scale"].item(),
    )
    _close(camera, tiny_oracle["T"])
    _close(model.context(tiny_oracle["clip_emb"], camera), tiny_oracle["context"])


@torch.no_grad()
def test_eps_uses_the_ema_unet(model, tiny_oracle):
    eps = model.eps(
        tiny_oracle["in_x_noisy"], tiny_oracle["in_t"], tiny_oracle["context"], tiny_oracle["vae_posterior_mean"]
    )
    _close(eps, tiny_oracle["eps_cond"])


@torch.no_grad()
def test_eps_with_guidance_uses_the_zero_unconditional_branch(model, tiny_oracle):
    args = (tiny_oracle["in_x_noisy"], tiny_oracle["in_t"], tiny_oracle["context"], tiny_oracle["vae_posterior_mean"])
    _close(model.eps(*args, guidance_scale=3.0), tiny_oracle["eps_cfg"])
    zeros = (torch.zeros_like(args[2]), torch.zeros_like(args[3]))
    _close(model.eps(*args[:2], *zeros), tiny_oracle["eps_uncond_cfgbatch"])


def test_ddim_scheduler_matches_the_official_one(model, tiny_oracle):
    scheduler = ddim_scheduler(model)
    scheduler.set_timesteps(int(tiny_oracle["in_ddim_steps"]))
    assert scheduler.timesteps.tolist() == tiny_oracle["ddim_timesteps"].tolist()
    _close(scheduler.alphas_cumprod, tiny_oracle["ddim_alphas_cumprod"], atol=0.0)
    _close(scheduler.alphas_cumprod, tiny_oracle["ldm_alphas_cumprod"], atol=5e-7)


def test_ddim_trajectory_and_final_image(model, tiny_oracle):
    trajectory = []
    latents = sample_latents(
        model,
        tiny_oracle["context"],
        tiny_oracle["vae_posterior_mean"],
        steps=int(tiny_oracle["in_ddim_steps"]),
        guidance_scale=tiny_oracle["in_guidance_scale"].item(),
        eta=tiny_oracle["in_ddim_eta"].item(),
        init_noise=tiny_oracle["ddim_init_noise"],
        callback=lambda step, total, current: trajectory.append((step, total, current.clone())),
    )
    expected = tiny_oracle["ddim_latents_traj"]
    assert [(step, total) for step, total, _ in trajectory] == [(i, 10) for i in range(1, 11)]
    for step, _, current in trajectory:
        _close(current, expected[step], atol=1e-3, rtol=1e-4)
    _close(latents, tiny_oracle["ddim_final_latents"], atol=1e-3, rtol=1e-4)
    with torch.no_grad():
        decoded = model.decode(latents)
    _close(decoded, tiny_oracle["ddim_final_decoded"], atol=1e-3, rtol=1e-4)
    _close((decoded * 0.5 + 0.5).clamp(0, 1), tiny_oracle["ddim_final_image01"], atol=1e-3, rtol=1e-4)
