"""Training: conditioning dropout rates, warm-up, EMA, the loss going down, checkpoints that
``load_zeronvs`` reads, and resume."""

import json
from dataclasses import replace

import pytest
import torch

from zeronvs_core.data.pairs import collate_pairs
from zeronvs_core.data.synthetic_pairs import SyntheticPairs
from zeronvs_core.model import load_zeronvs
from zeronvs_training.objective import (
    EMA,
    cosine_decay_factor,
    diffusion_loss,
    dropout_masks,
    warmup_factor,
)
from zeronvs_training.train import TrainConfig, _datasets, build_model, load_config, main, train


def test_dropout_rates_over_many_samples():
    keep_clip, keep_concat = dropout_masks(200_000, torch.Generator().manual_seed(0))
    clip_only = (~keep_clip & keep_concat).float().mean().item()
    both = (~keep_clip & ~keep_concat).float().mean().item()
    concat_only = (keep_clip & ~keep_concat).float().mean().item()
    assert clip_only == pytest.approx(0.05, abs=0.003)
    assert both == pytest.approx(0.05, abs=0.003)
    assert concat_only == pytest.approx(0.05, abs=0.003)


def test_warmup_and_ema_decay():
    assert warmup_factor(0) == pytest.approx(1e-6)
    assert warmup_factor(50) == pytest.approx(0.5, abs=1e-6)
    assert warmup_factor(100) == warmup_factor(5000) == 1.0
    module = torch.nn.Linear(2, 2, bias=False)
    ema = EMA(module, decay=0.9999)
    start = module.weight.detach().clone()
    with torch.no_grad():
        module.weight.add_(1.0)
    ema.update(module)  # first update: decay min(0.9999, 2/11)
    torch.testing.assert_close(ema.shadow["weight"], start + (1 - 2 / 11))


def test_cosine_decay_over_the_last_steps():
    assert cosine_decay_factor(600, max_steps=1000, decay_steps=400) == 1.0
    assert cosine_decay_factor(800, max_steps=1000, decay_steps=400) == pytest.approx(0.5)
    assert cosine_decay_factor(700, max_steps=1000, decay_steps=400) == pytest.approx(0.5 + 0.5 * 2**-0.5)
    assert cosine_decay_factor(1000, max_steps=1000, decay_steps=400) == pytest.approx(0.0)
    assert cosine_decay_factor(1200, max_steps=1000, decay_steps=400) == pytest.approx(0.0)
    assert cosine_decay_factor(999, max_steps=1000, decay_steps=0) == 1.0
    with pytest.raises(ValueError, match=r"lr_decay_steps must be between 0 and max_steps \(10\), got 11"):
        TrainConfig(max_steps=10, lr_decay_steps=11)


@pytest.fixture(scope="module")
def tiny_train_config(tiny_files, tmp_path_factory):
    return TrainConfig(
        init=str(tiny_files[0]),
        ldm_config=str(tiny_files[1]),
        datasets=({"kind": "synthetic", "probability": 1.0, "n_scenes": 4},),
        batch_size=2,
        max_steps=4,
        checkpoint_every=2,
        validate_every=2,
        validation_pairs=2,
        validation_ddim_steps=2,
        log_every=1,
    )


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(tiny_train_config):
    model = build_model(tiny_train_config).train()
    model.requires_grad_(False)
    model.unet.requires_grad_(True)
    model.cc_projection.requires_grad_(True)
    batch = collate_pairs([SyntheticPairs(2)[i] for i in range(2)])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def fixed_loss():
        with torch.no_grad():
            return diffusion_loss(model, batch, torch.Generator().manual_seed(0), dropout=0.0).item()

    before = fixed_loss()
    for step in range(15):
        loss = diffusion_loss(model, batch, torch.Generator().manual_seed(step % 3), dropout=0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert fixed_loss() < 0.8 * before


def test_min_snr_weighting_down_weights_low_noise_steps(tiny_train_config):
    model = build_model(tiny_train_config)
    batch = collate_pairs([SyntheticPairs(2)[i] for i in range(4)])

    def loss(snr_gamma):
        with torch.no_grad():
            generator = torch.Generator().manual_seed(3)
            return diffusion_loss(model, batch, generator, dropout=0.0, snr_gamma=snr_gamma).item()

    official = loss(None)
    assert loss(1e12) == pytest.approx(official, rel=1e-6)  # min(SNR, gamma) / SNR = 1
    assert loss(1.0) < 0.9 * official  # weights <= 1, < 1 wherever SNR(t) > 1


def test_truncated_snr_weighting_scales_by_one_over_snr_up_to_its_cap(tiny_train_config):
    model = build_model(tiny_train_config)
    batch = collate_pairs([SyntheticPairs(2)[i] for i in range(4)])

    def loss(**weighting):
        with torch.no_grad():
            return diffusion_loss(model, batch, torch.Generator().manual_seed(3), dropout=0.0, **weighting).item()

    official = loss()
    # 1 / SNR(t) >= 8.5e-4 for every t (SNR(0) = 0.99915 / 0.00085): a cap below it is a constant weight
    assert loss(x0_weight_cap=1e-4) == pytest.approx(1e-4 * official, rel=1e-6)
    assert loss(x0_weight_cap=1e6) > loss(x0_weight_cap=1.0)  # the high-noise steps weigh more without a cap
    with pytest.raises(ValueError, match="two loss weightings"):
        loss(snr_gamma=1.0, x0_weight_cap=20.0)
    with pytest.raises(ValueError, match="two loss weightings"):
        replace(tiny_train_config, snr_gamma=1.0, x0_weight_cap=20.0)


def test_train_writes_loadable_checkpoints_and_resumes(tiny_train_config, tmp_path):
    messages = []
    half = replace(tiny_train_config, max_steps=2, gradient_accumulation=2)
    first = train(half, tmp_path, log=messages.append)
    assert first.name == "step_0000002"
    model = load_zeronvs(first / "model.safetensors")  # the project's format, EMA UNet inside
    assert model.config.resolution == 64
    with (tmp_path / "log.jsonl").open("a") as log:  # a run killed after step 2's checkpoint logged step 3
        log.write(json.dumps({"step": 3, "loss": 1.0, "lr": 0.0, "seconds": 0.0}) + "\n")
    last = train(replace(tiny_train_config, gradient_accumulation=2), tmp_path, resume=True, log=messages.append)
    assert last.name == "step_0000004"
    assert any("resumed from" in m and "at step 2" in m for m in messages)
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # the lost step's record gave way to the redone one
    expected = [tiny_train_config.lr * warmup_factor(step, tiny_train_config.warmup_steps) for step in (1, 2, 3, 4)]
    assert [r["lr"] for r in records] == pytest.approx(expected)  # the warm-up goes on across the resume
    assert all(r["loss"] > 0 for r in records) and "val_psnr" in records[1] and "val_psnr" in records[3]


def test_lr_decays_to_zero_over_the_last_steps_across_a_resume(tiny_train_config, tmp_path):
    decaying = replace(tiny_train_config, warmup_steps=1, lr_decay_steps=2, validate_every=100)
    train(replace(decaying, max_steps=2, lr_decay_steps=0), tmp_path, log=lambda _: None)
    train(decaying, tmp_path, resume=True, log=lambda _: None)  # the decay is the config's, not the checkpoint's
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    lrs = [r["lr"] / decaying.lr for r in records]
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.0])


def test_config_file_errors(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("batch_size: 4\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match=r"unknown training settings \['learning_rate'\]"):
        load_config(path)
    assert main(["--config", str(path), "--output", str(tmp_path / "run")]) == 2
    assert "unknown training settings" in capsys.readouterr().err
    path.write_text("max_steps: 5\nlr_decay_steps: 6\n")
    with pytest.raises(ValueError, match=r"bad.yaml: lr_decay_steps must be between 0 and max_steps \(5\), got 6"):
        load_config(path)


def test_shipped_configs_parse():
    from pathlib import Path

    configs = Path(__file__).parents[2] / "training" / "configs"
    mini = load_config(configs / "mini_synthetic.yaml")
    assert mini.autoencoder.endswith("runs/mini_vae/autoencoder.safetensors")  # stage 1's output
    model = build_model(replace(mini, autoencoder=None))
    assert model.config.resolution == 64 and model.config.camera_dim == 19
    params = sum(p.numel() for p in model.parameters())
    assert params * 2 < 20e6  # fits the 20 MB budget in float16
    finetune = load_config(configs / "mini_finetune.yaml")  # stage 4 of the demo model: stages 2 and 3 in
    assert finetune.init.endswith("runs/mini/checkpoints/step_0003000/model.safetensors")
    assert finetune.autoencoder.endswith("runs/mini_vae_aa/autoencoder.safetensors")
    assert finetune.snr_gamma == 5.0 and finetune.datasets[0]["supersample"] == 2 and finetune.datasets[0]["cache"]
    camera = load_config(configs / "mini_camera.yaml")  # stage 5: stage 4's last checkpoint, Min-SNR gamma 1
    assert camera.init.endswith("runs/mini_ft/checkpoints/step_0004750/model.safetensors")
    assert camera.autoencoder is None and camera.snr_gamma == 1.0
    assert (camera.max_steps, camera.lr_decay_steps) == (14750, 6000)  # the decay starts after the resume at 8750
    second = load_config(configs / "mini_camera2.yaml")  # stage 6: a second cosine cycle from stage 5's end
    assert second.init.endswith("runs/mini_cam/checkpoints/step_0014750/model.safetensors")
    assert (second.lr, second.max_steps, second.lr_decay_steps) == (1e-4, 8000, 8000)
    assert second.snr_gamma == 1.0 and second.datasets == camera.datasets
    third = load_config(configs / "mini_camera3.yaml")  # stage 7: a third cycle from stage 6's end
    assert third.init.endswith("runs/mini_cam2/checkpoints/step_0008000/model.safetensors")
    assert (third.lr, third.max_steps, third.lr_decay_steps) == (1e-4, 7000, 6250)  # the decay starts at step 750
    assert third.snr_gamma == 1.0 and third.datasets == camera.datasets
    fourth = load_config(configs / "mini_camera4.yaml")  # stage 8: stage 7's end on pairs within 90 degrees
    assert fourth.init.endswith("runs/mini_cam3/checkpoints/step_0007000/model.safetensors")
    assert (fourth.lr, fourth.max_steps, fourth.lr_decay_steps) == (1e-4, 5500, 5500)
    nearby = dict(fourth.datasets[0])
    assert nearby.pop("max_view_gap") == 6 and (nearby,) == tuple(camera.datasets)
    assert _datasets(fourth, 64)[0][0].max_view_gap == 6  # the setting reaches the dataset
    fifth = load_config(configs / "mini_camera5.yaml")  # stage 9 (issue 27): the shipped model, direction levers
    assert fifth.init.endswith("zeronvs_core/model/weights/zeronvs-mini.safetensors")
    assert fifth.direction_pairs and fifth.cc_projection_weight_decay == 0.0 and fifth.snr_gamma == 1.0
    mixture = _datasets(fifth, 64)[0]
    assert [d.lateral for d in mixture] == [False, True, True] and mixture[2].kinds == ("room", "outdoor")
    pans, film = load_config(configs / "mini_camera6.yaml"), load_config(configs / "mini_camera6_film.yaml")
    assert not pans.camera_film and film.camera_film and pans.datasets == film.datasets  # stage 10: one lever apart
    orbits, truncated = load_config(configs / "mini_camera7.yaml"), load_config(configs / "mini_camera8.yaml")
    assert orbits.init == truncated.init and orbits.datasets == truncated.datasets and truncated.camera_film
    assert (orbits.snr_gamma, orbits.x0_weight_cap) == (1.0, None)
    assert (truncated.snr_gamma, truncated.x0_weight_cap) == (None, 20.0)
    assert all(spec["kinds"] == ["object"] for spec in orbits.datasets)
    official = load_config(configs / "official_finetune.yaml")
    assert [d["probability"] for d in official.datasets] == [0.34, 0.33, 0.33]
    assert (official.lr, official.cc_projection_lr_scale, official.ema_decay) == (1e-4, 10.0, 0.9999)
    assert (official.batch_size, official.gradient_accumulation) == (48, 4)


def test_dataset_mixture_draws_by_probability_and_rejects_unknown_kinds(tiny_train_config):
    from zeronvs_training.train import _datasets, _sample_batch

    mixture = replace(
        tiny_train_config,
        datasets=(
            {"kind": "synthetic", "probability": 0.75, "n_scenes": 2, "kinds": ("room",)},
            {"kind": "synthetic", "probability": 0.25, "n_scenes": 2, "kinds": ("object",)},
        ),
    )
    datasets, weights = _datasets(mixture, 16)
    draws = torch.multinomial(weights, 20_000, replacement=True, generator=torch.Generator().manual_seed(0))
    assert (draws == 0).float().mean().item() == pytest.approx(0.75, abs=0.01)
    batch = _sample_batch(datasets, weights, 3, torch.Generator().manual_seed(0))
    assert batch["cond_image"].shape == (3, 3, 16, 16) and batch["scale"].shape == (3,)
    with pytest.raises(ValueError, match="unknown dataset kind 'imagenet'"):
        _datasets(replace(tiny_train_config, datasets=({"kind": "imagenet", "probability": 1.0},)), 16)


def test_paired_batches_share_timestep_noise_and_dropout_between_twins(tiny_train_config):
    from zeronvs_training.train import _sample_batch

    model = build_model(tiny_train_config)
    pairs = SyntheticPairs(1, size=64, kinds=("object",), views_per_scene=8, pairs_per_scene=4, cache=True)
    datasets, weights = [pairs], torch.tensor([1.0], dtype=torch.float64)
    batch = _sample_batch(datasets, weights, 4, torch.Generator().manual_seed(0), paired=True)
    torch.testing.assert_close(batch["cond_image"][:2], batch["cond_image"][2:])  # the same inputs
    assert not torch.allclose(batch["target_c2w"][:2], batch["target_c2w"][2:])  # targets on the other side
    seen = []

    def forward(noisy, t, clip, camera, concat):
        seen.append((noisy, t, clip, camera, concat))
        return model(noisy, t, clip, camera, concat)

    with torch.no_grad():  # dropout 0.5: some elements lose their CLIP or concat input, and twins alike
        diffusion_loss(model, batch, torch.Generator().manual_seed(1), 0.5, forward=forward, paired=True)
    noisy, t, clip, camera, concat = seen[0]
    assert torch.equal(t[:2], t[2:]) and not torch.equal(t[0], t[1])
    assert torch.equal(clip[:2], clip[2:]) and torch.equal(concat[:2], concat[2:])
    assert not torch.allclose(camera[:2], camera[2:])
    with torch.no_grad():
        diffusion_loss(model, batch, torch.Generator().manual_seed(1), 0.5, forward=forward)
    assert not torch.equal(seen[1][1][:2], seen[1][1][2:])  # unpaired: independent draws
    with pytest.raises(ValueError, match="even number of pairs, got 3"):
        diffusion_loss(model, {k: v[:3] for k, v in batch.items()}, torch.Generator(), paired=True)
    with pytest.raises(ValueError, match="direction_pairs needs an even batch_size, got 5"):
        TrainConfig(direction_pairs=True, batch_size=5)


def test_cc_projection_weight_decay_is_its_own(tiny_train_config):
    from zeronvs_training.train import _optimizer

    model = build_model(tiny_train_config)
    groups = _optimizer(model, replace(tiny_train_config, cc_projection_weight_decay=0.0)).param_groups
    assert [g["weight_decay"] for g in groups] == [tiny_train_config.weight_decay, 0.0]
    assert groups[1]["lr"] == tiny_train_config.lr * tiny_train_config.cc_projection_lr_scale
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.cc_projection.parameters()}
    default = _optimizer(model, tiny_train_config).param_groups
    assert [g["weight_decay"] for g in default] == [tiny_train_config.weight_decay] * 2


def test_a_missing_init_names_the_setting(tiny_train_config, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^init: no weight file at .*none\.safetensors \(the checkpoint"):
        build_model(replace(tiny_train_config, init=str(tmp_path / "none.safetensors")))


def test_camera_film_is_added_at_zero_and_trains_with_the_camera_layers(tiny_train_config, tmp_path):
    from zeronvs_training.train import _optimizer

    film = replace(tiny_train_config, camera_film=True, cc_projection_weight_decay=0.0)
    model = build_model(film)
    assert model.config.camera_film and not model.camera_film.weight.any() and not model.camera_film.bias.any()
    groups = _optimizer(model, film).param_groups
    camera_layers = [*model.cc_projection.parameters(), *model.camera_film.parameters()]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in camera_layers}
    assert groups[1]["weight_decay"] == 0.0
    last = train(replace(film, max_steps=1, checkpoint_every=1, validate_every=100), tmp_path, log=lambda _: None)
    trained = load_zeronvs(last / "model.safetensors")
    assert trained.config.camera_film and trained.camera_film.weight.any()  # the zero start moved
