"""``zeronvs convert --comfyui``: the official checkpoint with each EMA shadow under its live UNet name (what
ComfyUI's CheckpointLoaderSimple reads), every other key unchanged, and one-line errors."""

import pytest
import torch
from safetensors.torch import load_file

from zeronvs_core.cli import main
from zeronvs_core.model import load_zeronvs, save_zeronvs
from zeronvs_core.tensor_files import WeightFile


def test_the_unet_keys_hold_the_ema_weights_and_the_rest_is_unchanged(tiny_files, tmp_path, capsys):
    weights, _ = tiny_files
    dst = tmp_path / "tiny-comfyui.safetensors"
    assert main(["convert", str(weights), str(dst), "--comfyui", "--dtype", "float32"]) == 0
    assert "EMA UNet weights" in capsys.readouterr().out
    source, converted = WeightFile(weights), load_file(dst)
    assert set(converted) == {key for key in source if not key.startswith("model_ema.")}
    unet = [key for key in converted if key.startswith("model.diffusion_model.")]
    assert len(unet) == 208
    # LitEma's naming: model.diffusion_model.input_blocks.0.0.weight -> model_ema.diffusion_modelinput_blocks00weight
    shadow = converted["model.diffusion_model.input_blocks.0.0.weight"]
    assert torch.equal(shadow, source["model_ema.diffusion_modelinput_blocks00weight"])
    differs = 0
    for key in unet:
        ema = source["model_ema." + key[len("model.") :].replace(".", "")]
        assert torch.equal(converted[key], ema), key
        differs += not torch.equal(ema, source[key])
    assert differs > 100  # the fixture's EMA and live weights differ, so the choice is visible
    for key in set(converted) - set(unet):
        assert torch.equal(converted[key], source[key]), key


def test_loading_the_rewrite_gives_the_models_ema_unet(tiny_files, tiny_model, tmp_path):
    weights, config = tiny_files
    dst = tmp_path / "c.safetensors"
    assert main(["convert", str(weights), str(dst), "--comfyui", "--dtype", "float32"]) == 0
    with pytest.warns(UserWarning, match="no EMA UNet weights"):
        reloaded = load_zeronvs(dst, config=config)  # no model_ema.* left: the live keys are the EMA weights
    for name, value in tiny_model.unet.state_dict().items():
        assert torch.equal(reloaded.unet.state_dict()[name], value), name


def test_float16_by_default_and_errors_are_one_line(tiny_files, tiny_model, tmp_path, capsys):
    weights, _ = tiny_files
    assert main(["convert", str(weights), str(tmp_path / "h.safetensors"), "--comfyui"]) == 0
    assert load_file(tmp_path / "h.safetensors")["cc_projection.weight"].dtype == torch.float16
    capsys.readouterr()
    own = save_zeronvs(tiny_model, tmp_path / "own.safetensors")
    assert main(["convert", str(own), str(tmp_path / "x.safetensors"), "--comfyui"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronvs: error: ") and "is in the project's format" in err and err.count("\n") == 1
    assert main(["convert", str(weights), str(tmp_path / "x.ckpt"), "--comfyui"]) == 2
    assert "x.ckpt must end in .safetensors" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "x.ckpt").exists()
