"""The one noise schedule and forward-noising helper: diffusers' scaled_linear schedule bit for bit,
the sampler built on it, and hand-worked noising."""

from types import SimpleNamespace

import pytest
import torch

from zeronvs_core.noise_schedule import add_noise, alphas_cumprod, betas

RELEASED = SimpleNamespace(beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000)


def test_schedule_is_diffusers_scaled_linear_exactly():
    from diffusers import DDIMScheduler

    reference = DDIMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"
    )
    assert torch.equal(betas(RELEASED), reference.betas)
    assert torch.equal(alphas_cumprod(RELEASED), reference.alphas_cumprod)


def test_schedule_endpoints_by_hand():
    b = betas(RELEASED)
    assert b[0].item() == pytest.approx(0.00085, rel=1e-6)
    assert b[-1].item() == pytest.approx(0.012, rel=1e-6)
    a = alphas_cumprod(RELEASED)
    assert a[0].item() == pytest.approx(1 - 0.00085, rel=1e-7)
    assert a[1].item() == pytest.approx((1 - 0.00085) * (1 - b[1].item()), rel=1e-6)
    assert bool((a[1:] < a[:-1]).all())
    assert a[-1].item() == pytest.approx(0.0047, abs=1e-4)  # SD's well-known final alpha_bar


def test_the_sampler_uses_the_same_schedule(tiny_model):
    from zeronvs_core.sampling import ddim_scheduler

    assert torch.equal(ddim_scheduler(tiny_model).alphas_cumprod, alphas_cumprod(tiny_model.config))


def test_add_noise_by_hand_per_sample_and_scalar():
    latents = torch.full((2, 1, 1, 2), 2.0)
    noise = torch.full((2, 1, 1, 2), -1.0)
    alpha_bar = torch.tensor([0.64, 0.36])
    noisy = add_noise(latents, noise, alpha_bar)
    torch.testing.assert_close(noisy[0], torch.full((1, 1, 2), 0.8 * 2 - 0.6))
    torch.testing.assert_close(noisy[1], torch.full((1, 1, 2), 0.6 * 2 - 0.8))
    torch.testing.assert_close(add_noise(latents, noise, torch.tensor(0.64)), torch.full((2, 1, 1, 2), 1.0))
