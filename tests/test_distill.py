"""SDS distillation on the tiny official model: the SDS gradient, presets, a smoke run that fits the
input view, exact resume, stop requests and bad input."""

import json
from dataclasses import replace

import pytest
import torch

from zeronvs_core.anchors import AnchorConfig, AnchorViews, anchor_cameras
from zeronvs_core.distill import OFFICIAL, PRESETS, DistillConfig, distill, sds_loss
from zeronvs_core.render import render_orbit

TINY_RUN = replace(PRESETS["cpu_smoke"], steps=6, render_sizes=(16, 16), checkpoint_every=100)


class _Stop(Exception):
    """Raised by a callback to stop a distillation."""


def _stop(step, total, preview=None):
    raise _Stop


@pytest.fixture(scope="module")
def photo():
    """A 3-colour photo: red left half, blue right half, a gray bottom band."""
    image = torch.zeros(1, 3, 80, 96)
    image[:, 0, :, :48] = 1.0
    image[:, 2, :, 48:] = 1.0
    image[:, :, 60:] = 0.5
    return image


def test_sds_gradient_is_weighted_noise_residual_over_batch():
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(3, 4, 8, 8, generator=g, requires_grad=True)
    noise, eps = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)
    alphas = torch.tensor([0.9, 0.5, 0.1])
    sds_loss(latents, noise, eps, alphas).backward()
    expected = (1 - alphas).view(-1, 1, 1, 1) * (eps - noise) / 3
    torch.testing.assert_close(latents.grad, expected)


def test_official_recipe_and_presets():
    assert (OFFICIAL.steps, OFFICIAL.guidance_scale, OFFICIAL.batch_sizes, OFFICIAL.render_sizes) == (
        4000,
        9.5,
        (6, 1),
        (128, 256),
    )
    assert (OFFICIAL.lambda_sds, OFFICIAL.lambda_rgb, OFFICIAL.lambda_normal_smooth, OFFICIAL.lambda_orient) == (
        0.1,
        1500.0,
        8.0,
        5.0,
    )
    assert (OFFICIAL.rays.near, OFFICIAL.rays.far, OFFICIAL.anisotropic_offset, OFFICIAL.anchoring.count) == (
        0.5,
        1000.0,
        1000.0,
        0,
    )
    dtu = PRESETS["official_dtu"]
    assert (dtu.background, dtu.lambda_opaque, dtu.guidance_scale, dtu.anisotropic_offset) == ("black", 0.1, 7.5, None)
    smoke = PRESETS["cpu_smoke"]  # 200 steps: every milestone scaled by 1/20
    assert (smoke.steps, smoke.switch_step, smoke.cameras.progressive_until, smoke.anisotropic_offset) == (
        200,
        100,
        50,
        50.0,
    )
    assert smoke.max_step_percent.start_step == 50 and smoke.max_step_percent.end_step == 125
    assert set(PRESETS) == {"official", "official_dtu", "fast", "cpu_smoke"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be >= 1"),
        ({"render_sizes": (4, 4)}, "render_sizes"),
    ],
)
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DistillConfig(**kwargs)


@pytest.mark.parametrize(
    ("args", "message"),
    [((0.0, 31.0, 0.7), "fov_deg"), ((52.55, 95.0, 0.7), "elevation_deg"), ((52.55, 31.0, 0.0), "scale")],
)
def test_bad_camera_settings(tiny_model, photo, args, message):
    with pytest.raises(ValueError, match=message):
        distill(tiny_model, photo, *args, TINY_RUN)


def test_smoke_run_fits_the_input_view(tiny_model, photo):
    result = distill(tiny_model, photo, 52.55, 31.0, 0.7, replace(TINY_RUN, steps=40))
    rgb = [h["rgb"] for h in result.history]
    assert result.step == 40
    assert sum(rgb[-5:]) / 5 < 0.6 * sum(rgb[:5]) / 5
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in result.history)
    assert set(result.history[0]) == {"sds", "rgb", "proposal", "total"}
    assert set(result.timings) == {"render", "prior", "backward", "optimiser"} and min(result.timings.values()) > 0
    frames = render_orbit(result.scene, 31.0, 52.55, n_views=2, size=16)
    assert torch.isfinite(frames.rgb).all() and torch.isfinite(frames.depth).all()


def test_stop_and_resume_equal_an_uninterrupted_run(tiny_model, photo, tmp_path):
    run = replace(TINY_RUN, switch_step=3, render_sizes=(16, 20))  # the resumed half renders a new size
    global_state = torch.get_rng_state()
    straight = distill(tiny_model, photo, 52.55, 31.0, 0.7, run)
    assert torch.equal(torch.get_rng_state(), global_state)  # the library never touches the global RNG
    calls = []

    def stop_after_three(step, total, preview=None):
        calls.append(step)
        if len(calls) >= 3:
            raise _Stop

    with pytest.raises(_Stop):
        distill(tiny_model, photo, 52.55, 31.0, 0.7, run, checkpoint_dir=tmp_path, callback=stop_after_three)
    assert calls == [1, 2, 3] and torch.load(tmp_path / "last.ckpt", weights_only=True)["step"] == 3
    resumed = distill(tiny_model, photo, 52.55, 31.0, 0.7, run, checkpoint_dir=tmp_path, resume=True)
    assert resumed.step == 6 and resumed.history == straight.history
    for key, value in straight.scene.state_dict().items():
        assert torch.equal(value, resumed.scene.state_dict()[key]), key


def test_an_interruption_inside_a_step_is_undone_and_resumes_exactly(tiny_model, photo, tmp_path, monkeypatch):
    import zeronvs_core.distill.run as distill_module

    run = replace(TINY_RUN, steps=4, switch_step=2, render_sizes=(16, 20))
    straight = distill(tiny_model, photo, 52.55, 31.0, 0.7, run)
    calls, original = [], distill_module.sds_loss

    def interrupted_sds(*args):
        calls.append(1)
        if len(calls) == 3:  # in the middle of step 3, after its renders drew random numbers
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(distill_module, "sds_loss", interrupted_sds)
    with pytest.raises(KeyboardInterrupt):
        distill(tiny_model, photo, 52.55, 31.0, 0.7, run, checkpoint_dir=tmp_path)
    monkeypatch.undo()
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["step"] == 2
    resumed = distill(tiny_model, photo, 52.55, 31.0, 0.7, run, checkpoint_dir=tmp_path, resume=True)
    assert resumed.history == straight.history
    for key, value in straight.scene.state_dict().items():
        assert torch.equal(value, resumed.scene.state_dict()[key]), key


def test_an_exception_in_the_callback_leaves_a_checkpoint(tiny_model, photo, tmp_path):
    class Interrupted(Exception):
        pass

    def interrupt(step, total, preview):
        assert preview.shape == (3, 16, 16)
        if step == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        distill(tiny_model, photo, 52.55, 31.0, 0.7, TINY_RUN, checkpoint_dir=tmp_path, callback=interrupt)
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert state["step"] == 2
    with pytest.raises(ValueError, match="another distillation config"):
        distill(tiny_model, photo, 52.55, 31.0, 0.7, replace(TINY_RUN, seed=1), checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match="other camera settings"):
        distill(tiny_model, photo, 40.0, 31.0, 0.7, TINY_RUN, checkpoint_dir=tmp_path, resume=True)


def test_anchored_run_with_depth_gate_and_its_resume(tiny_model, photo, tmp_path):
    config = replace(
        TINY_RUN,
        lambda_normal_smooth=8.0,
        lambda_orient=5.0,
        steps=4,
        anchoring=AnchorConfig(count=2, steps=2, depth_threshold=1.0, sds_guidance_scale=3.0),
    )
    with pytest.raises(_Stop):
        distill(tiny_model, photo, 52.55, 31.0, 0.7, config, checkpoint_dir=tmp_path, callback=_stop)
    first = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert first["anchors"]["images"].shape == (2, 3, 64, 64) and first["step"] == 1
    assert {"normal_smooth", "orient"} <= set(json.loads(first["history"])[0])
    resumed = distill(tiny_model, photo, 52.55, 31.0, 0.7, config, checkpoint_dir=tmp_path, resume=True)
    assert resumed.step == 4
    torch.testing.assert_close(resumed.anchor_views.images, first["anchors"]["images"])


def test_anchor_views_made_beforehand_are_used_and_checked(tiny_model, photo):
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    clip, concat = tiny_model.embed_image(images * 2 - 1)
    views = AnchorViews(anchor_cameras(2, 31.0), images, clip, concat)
    config = replace(TINY_RUN, steps=1, anchoring=AnchorConfig(count=2))
    assert distill(tiny_model, photo, 52.55, 31.0, 0.7, config, anchor_views=views).anchor_views is views
    with pytest.raises(ValueError, match="got 2 anchor views, but config.anchoring.count is 3"):
        distill(
            tiny_model, photo, 52.55, 31.0, 0.7, replace(config, anchoring=AnchorConfig(count=3)), anchor_views=views
        )
    with pytest.raises(ValueError, match="another input camera"):
        distill(tiny_model, photo, 52.55, 20.0, 0.7, config, anchor_views=views)
