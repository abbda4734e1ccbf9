"""Camera-use probes: the mirrored camera is the same turn the other way, and the probe rows are the
epsilon losses they claim to be."""

import pytest
import torch
import torch.nn.functional as F

from zeronvs_core.cameras import orbit_camera
from zeronvs_core.data.pairs import collate_pairs
from zeronvs_core.data.synthetic_pairs import SyntheticPairs
from zeronvs_core.noise_schedule import alphas_cumprod
from zeronvs_training.camera_probes import ROWS, camera_losses, mirror_target, relative_gain
from zeronvs_training.objective import batch_conditioning


def _orbit(elevation: float, azimuth: float) -> torch.Tensor:
    return orbit_camera(elevation, azimuth, 1.6).reshape(1, 4, 4).to(torch.float64)


@pytest.mark.parametrize(("elevation", "azimuth", "turn"), [(31, 0, 30), (10, 75, 90), (-20, 200, 60)])
def test_mirror_turns_an_orbit_the_other_way(elevation, azimuth, turn):
    mirrored = mirror_target(_orbit(elevation, azimuth + turn), _orbit(elevation, azimuth))[0]
    torch.testing.assert_close(mirrored, _orbit(elevation, azimuth - turn)[0], atol=1e-6, rtol=0)  # float32 orbits
    assert torch.linalg.det(mirrored[:3, :3]).item() == pytest.approx(1.0)


def test_mirror_of_the_input_camera_is_itself(random_rigid):
    cond = random_rigid(4, seed=3)
    torch.testing.assert_close(mirror_target(cond, cond), cond)


@pytest.fixture(scope="module")
def probe_batch(tiny_model):
    pairs = SyntheticPairs(2, size=tiny_model.config.resolution, kinds=("object",), pairs_per_scene=1)
    return collate_pairs([pairs[i] for i in range(len(pairs))])


def test_probe_rows_are_the_epsilon_losses_they_name(tiny_model, probe_batch):
    losses = camera_losses(tiny_model, probe_batch, (100, 700), seed=5)
    assert list(losses) == [100, 700] and all(list(row) == list(ROWS) for row in losses.values())
    # the "mirrored" row by hand: the same VAE sample and noise draws, the mirrored target's camera vector
    clip, concat, _ = batch_conditioning(tiny_model, probe_batch)
    mirrored = mirror_target(probe_batch["target_c2w"], probe_batch["cond_c2w"])
    _, _, camera = batch_conditioning(tiny_model, {**probe_batch, "target_c2w": mirrored})
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        latents = tiny_model.encode(probe_batch["target_image"] * 2.0 - 1.0, generator=generator)
        alphas = alphas_cumprod(tiny_model.config)
        for t in (100, 700):
            noise = torch.randn(latents.shape, generator=generator)
            noisy = alphas[t].sqrt() * latents + (1.0 - alphas[t]).sqrt() * noise
            eps = tiny_model(noisy, torch.full((2,), t), clip, camera, concat)
            assert losses[t]["mirrored"] == pytest.approx(F.mse_loss(eps, noise).item(), rel=1e-6)
    assert losses[100]["mirrored"] != losses[100]["true"]  # a real turn: the mirrored camera is another input


def test_every_altered_camera_equals_the_true_one_when_the_target_is_the_input(tiny_model, probe_batch):
    still = {**probe_batch, "target_c2w": probe_batch["cond_c2w"], "target_image": probe_batch["cond_image"]}
    single = {key: value[:1] for key, value in still.items()}  # one pair: shuffling is the identity too
    losses = camera_losses(tiny_model, single, (300,))
    row = losses[300]
    assert row["true"] == row["identity"] == row["mirrored"] == row["shuffled"]
    assert relative_gain(losses, "mirrored") == 0.0


def test_relative_gain_is_the_mean_rise_over_timesteps():
    losses = {10: {"true": 2.0, "mirrored": 3.0}, 20: {"true": 4.0, "mirrored": 4.4}}
    assert relative_gain(losses, "mirrored") == pytest.approx((0.5 + 0.1) / 2)
