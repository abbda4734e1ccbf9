"""DDIM novel-view sampling on the official tiny model: end-to-end parity with the official
``gen_from_cond``, batching invariance, seeding, progress/interrupt and input checks."""

import pytest
import torch

from zeronvs_core.cameras import orbit_path
from zeronvs_core.sampling import sample_latents, sample_views


def _pair0(tiny_oracle):
    """Photo in [0,1], cameras, FOV and scale of the oracle's first (conditioning, target) pair."""
    return (
        (tiny_oracle["in_x_img"][:1] + 1) / 2,
        tiny_oracle["in_c2w_cond"][0],
        tiny_oracle["in_c2w_target"][:1],
        tiny_oracle["in_fov_deg"][0].item(),
        tiny_oracle["in_precomputed_scale"].item(),
    )


def test_sample_views_reproduces_the_official_ddim_image(tiny_model, tiny_oracle):
    views = sample_views(
        tiny_model,
        *_pair0(tiny_oracle),
        steps=10,
        guidance_scale=3.0,
        eta=0.0,
        init_noise=tiny_oracle["ddim_init_noise"][:1],
    )
    assert views.shape == (1, 3, 64, 64)
    torch.testing.assert_close(views, tiny_oracle["ddim_final_image01"][:1], atol=1e-3, rtol=1e-4)


def _orbit_args(tiny_oracle, count=3):
    image, cond, _, fov, scale = _pair0(tiny_oracle)
    targets = cond @ orbit_path(count, elevation_deg=0.0) @ torch.linalg.inv(orbit_path(1, elevation_deg=0.0)[0])
    return image, cond, targets, fov, scale


def test_results_do_not_depend_on_the_unet_batch_size(tiny_model, tiny_oracle):
    args = _orbit_args(tiny_oracle)
    one = sample_views(tiny_model, *args, steps=3, generator=torch.Generator().manual_seed(0), batch_size=1)
    all_ = sample_views(tiny_model, *args, steps=3, generator=torch.Generator().manual_seed(0), batch_size=3)
    assert one.shape == (3, 3, 64, 64)
    torch.testing.assert_close(one, all_, atol=1e-4, rtol=0)


def test_generator_seeds_the_whole_run(tiny_model, tiny_oracle):
    args = _orbit_args(tiny_oracle, count=2)

    def run(seed):
        return sample_views(tiny_model, *args, steps=2, eta=1.0, generator=torch.Generator().manual_seed(seed))

    first, again, other = run(7), run(7), run(8)
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 1e-2
    assert 0.0 <= first.min() and first.max() <= 1.0


def test_callback_sees_every_step_and_can_interrupt(tiny_model, tiny_oracle):
    calls = []
    context, concat = tiny_oracle["context"], tiny_oracle["vae_posterior_mean"]
    sample_latents(tiny_model, context, concat, steps=4, callback=lambda s, n, z: calls.append((s, n, z.shape)))
    assert calls == [(step, 4, (2, 4, 32, 32)) for step in range(1, 5)]

    class Stop(Exception):
        pass

    def stop_at_two(step, total, latents):
        if step == 2:
            raise Stop

    with pytest.raises(Stop):
        sample_latents(tiny_model, context, concat, steps=4, callback=stop_at_two)


def test_an_rgba_photo_gives_the_views_of_the_rgb_photo_composited_on_white(tiny_model, tiny_oracle):
    """At the model's resolution (no resize), RGBA in equals ``rgb * a + (1 - a)`` in, for the same seed; and
    the alpha matters (the plain RGB gives other views: 0.34 apart at most), so skipping the compositing shows."""
    _, cond, targets, fov, scale = _orbit_args(tiny_oracle, count=2)
    rgba = torch.rand(1, 4, 64, 64, generator=torch.Generator().manual_seed(5))
    rgba[:, 3, :, :20] = 0.0  # a transparent strip, the rest partly transparent
    rgb, alpha = rgba[:, :3], rgba[:, 3:]

    def views(photo):
        return sample_views(
            tiny_model, photo, cond, targets, fov, scale, steps=2, generator=torch.Generator().manual_seed(9)
        )

    expected = views(rgb * alpha + (1.0 - alpha))
    torch.testing.assert_close(views(rgba), expected, rtol=0, atol=1e-6)
    assert (views(rgb) - expected).abs().max() > 0.1


def test_any_photo_size_and_channels_are_accepted(tiny_model, tiny_oracle):
    _, cond, targets, fov, scale = _orbit_args(tiny_oracle, count=2)
    photo = torch.rand(1, 4, 90, 120, generator=torch.Generator().manual_seed(3))
    views = sample_views(tiny_model, photo, cond[None], targets, fov, scale, steps=1)
    assert views.shape == (2, 3, 64, 64)
    gray = torch.rand(1, 1, 70, 50, generator=torch.Generator().manual_seed(4))
    assert sample_views(tiny_model, gray, cond, targets, [fov, fov], scale, steps=1).shape == (2, 3, 64, 64)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": 0}, r"steps must be an integer in \[1, 1000\]"),
        ({"eta": 1.5}, r"eta must be in \[0, 1\]"),
        ({"guidance_scale": -1.0}, r"guidance_scale must be in \[0, 100\]"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"init_noise": torch.zeros(1, 4, 32, 32)}, r"init_noise must have shape \[2, 4, 32, 32\]"),
    ],
)
def test_bad_sampling_arguments(tiny_model, tiny_oracle, change, message):
    with pytest.raises(ValueError, match=message):
        sample_views(tiny_model, *_orbit_args(tiny_oracle, count=2), **change)


def test_bad_cameras_and_settings(tiny_model, tiny_oracle):
    image, cond, targets, fov, scale = _orbit_args(tiny_oracle, count=2)
    with pytest.raises(ValueError, match="cond_c2w must be one camera"):
        sample_views(tiny_model, image, targets, targets, fov, scale, steps=1)
    with pytest.raises(ValueError, match="cond_c2w"):
        sample_views(tiny_model, image, cond[:3], targets, fov, scale, steps=1)
    skewed = targets.clone()
    skewed[0, 0, 0] = 2.0
    with pytest.raises(ValueError, match="target_c2w"):
        sample_views(tiny_model, image, cond, skewed, fov, scale, steps=1)
    with pytest.raises(ValueError, match="fov_deg"):
        sample_views(tiny_model, image, cond, targets, 200.0, scale, steps=1)
    with pytest.raises(ValueError, match="image values must be in"):
        sample_views(tiny_model, image * 255, cond, targets, fov, scale, steps=1)


def test_model_methods_check_shapes(tiny_model, tiny_oracle):
    with pytest.raises(ValueError, match=r"image_pm1 must be a \[B,3,H,W\] image tensor"):
        tiny_model.embed_image(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match=r"camera must be \[2,19\] \(mode 7dof_quantile_scale\), got \[2, 4\]"):
        tiny_model.context(tiny_oracle["clip_emb"], torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"clip_embedding must be \[B,1,64\]"):
        tiny_model.context(torch.zeros(2, 64), tiny_oracle["T"])
    with pytest.raises(ValueError, match=r"latents must be \[B,4,h,w\] latents, got \[2, 3, 32, 32\]"):
        tiny_model.eps(torch.zeros(2, 3, 32, 32), 5, tiny_oracle["context"], tiny_oracle["vae_posterior_mean"])
    with pytest.raises(ValueError, match="t must be one timestep or 2, got 3"):
        tiny_model.eps(torch.zeros(2, 4, 32, 32), [1, 2, 3], tiny_oracle["context"], tiny_oracle["vae_posterior_mean"])
    with pytest.raises(ValueError, match="must share the batch size"):
        tiny_model.eps(torch.zeros(1, 4, 32, 32), 5, tiny_oracle["context"], tiny_oracle["vae_posterior_mean"])


def test_encode_samples_the_posterior_scaled_and_keeps_gradients(tiny_model, tiny_oracle):
    image = tiny_oracle["in_x_img"].clone().requires_grad_(True)
    latents = tiny_model.encode(image, generator=torch.Generator().manual_seed(0))
    assert latents.shape == (2, 4, 32, 32)
    latents.sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    with torch.no_grad():
        posterior = tiny_model.vae.encode(tiny_oracle["in_x_img"]).latent_dist
        noise = (latents / 0.18215 - posterior.mean) / posterior.std
    assert abs(noise.mean().item()) < 0.05 and abs(noise.std().item() - 1.0) < 0.05  # a real N(0,1) draw
