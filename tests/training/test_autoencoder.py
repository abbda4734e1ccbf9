"""The VAE stage of a from-scratch model: it trains, writes weights with a scale factor that
``train.py`` uses, resumes, and refuses files of another kind."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from zeronvs_training.autoencoder import load_autoencoder, main, train_autoencoder
from zeronvs_training.train import TrainConfig, build_model


def test_training_resumes_and_feeds_train_py(tiny_files, tmp_path):
    messages = []
    path = train_autoencoder(
        tiny_files[1], tmp_path, steps=2, batch_size=1, n_scenes=4, checkpoint_every=2, log=messages.append
    )
    state, scale_factor = load_autoencoder(path)
    assert 0.0 < scale_factor < 100.0 and "encoder.conv_in.weight" in state
    record = json.loads(messages[-1])
    assert record["step"] == 2 and record["val_psnr"] > 0 and record["scale_factor"] == pytest.approx(scale_factor)

    train_autoencoder(
        tiny_files[1], tmp_path, steps=3, batch_size=1, n_scenes=4, checkpoint_every=2, resume=True, log=messages.append
    )
    assert any("at step 2" in m for m in messages)
    steps = [json.loads(line)["step"] for line in (tmp_path / "autoencoder_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]

    config = TrainConfig(ldm_config=str(tiny_files[1]), autoencoder=str(path))
    model = build_model(config)
    trained, scale_factor = load_autoencoder(path)
    assert model.config.scale_factor == pytest.approx(scale_factor)
    torch.testing.assert_close(model.vae.state_dict()["decoder.conv_out.weight"], trained["decoder.conv_out.weight"])
    random_vae = build_model(replace(config, autoencoder=None))
    assert random_vae.config.scale_factor == pytest.approx(0.18215)


def test_init_starts_from_earlier_weights_and_a_fine_tune_takes_the_new_vae(tiny_files, tmp_path):
    first = train_autoencoder(tiny_files[1], tmp_path / "a", steps=1, batch_size=1, n_scenes=2, log=lambda _: None)
    second = train_autoencoder(
        tiny_files[1],
        tmp_path / "b",
        steps=1,
        batch_size=1,
        n_scenes=2,
        lr=0.0,
        supersample=2,
        init=first,
        log=lambda _: None,
    )
    (a, _), (b, scale_factor) = load_autoencoder(first), load_autoencoder(second)
    torch.testing.assert_close(b["decoder.conv_out.weight"], a["decoder.conv_out.weight"])  # lr 0: unchanged

    config = TrainConfig(init=str(tiny_files[0]), ldm_config=str(tiny_files[1]), autoencoder=str(second))
    model = build_model(config)
    assert model.config.scale_factor == pytest.approx(scale_factor)
    torch.testing.assert_close(model.vae.state_dict()["decoder.conv_out.weight"], b["decoder.conv_out.weight"])


def test_missing_and_foreign_files(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="train one with training/autoencoder.py"):
        load_autoencoder(tmp_path / "absent.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(1)}, str(foreign))
    with pytest.raises(ValueError, match="not an autoencoder"):
        load_autoencoder(foreign)
    assert main(["--ldm-config", str(tmp_path / "absent.yaml"), "--output", str(tmp_path / "out")]) == 2
    assert "autoencoder.py: error:" in capsys.readouterr().err
