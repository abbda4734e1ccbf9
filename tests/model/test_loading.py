"""Loading and saving: the project's own format round trip, EMA handling, and clear errors for
truncated, unsafe, foreign and mismatched files."""

import pathlib

import pytest
import torch
from safetensors.torch import load_file, save_file

from zeronvs_core.model import CheckpointError, ZeroNVSConfig, inference_dtype, load_zeronvs, save_zeronvs


@pytest.fixture(scope="module")
def tiny_state(tiny_files) -> dict[str, torch.Tensor]:
    return load_file(tiny_files[0])


def _eps(model, tiny_oracle):
    with torch.no_grad():
        return model.eps(
            tiny_oracle["in_x_noisy"], tiny_oracle["in_t"], tiny_oracle["context"], tiny_oracle["vae_posterior_mean"]
        )


def test_loaded_model_is_frozen_float32_eval(tiny_model):
    assert not tiny_model.training
    assert all(not p.requires_grad for p in tiny_model.parameters())
    assert {p.dtype for p in tiny_model.parameters()} == {torch.float32}
    assert {p.device.type for p in tiny_model.parameters()} == {"cpu"}


def test_own_format_round_trip_float32_is_exact(tiny_model, tiny_oracle, tmp_path):
    path = save_zeronvs(tiny_model, tmp_path / "tiny.safetensors", dtype=torch.float32)
    loaded = load_zeronvs(path)
    assert loaded.config == tiny_model.config
    original, reloaded = tiny_model.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    assert all(torch.equal(original[key], reloaded[key]) for key in original)
    torch.testing.assert_close(_eps(loaded, tiny_oracle), _eps(tiny_model, tiny_oracle), atol=0, rtol=0)


def test_own_format_float16_halves_the_file_and_stays_close(tiny_model, tiny_oracle, tmp_path):
    full = save_zeronvs(tiny_model, tmp_path / "full.safetensors", dtype=torch.float32)
    half = save_zeronvs(tiny_model, tmp_path / "half.safetensors")
    assert half.stat().st_size < 0.55 * full.stat().st_size
    assert {v.dtype for v in load_file(half).values()} == {torch.float16}
    loaded = load_zeronvs(half)  # float16 weights are read into a float32 model
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    error = (_eps(loaded, tiny_oracle) - tiny_oracle["eps_cond"]).abs().max()
    assert 0 < error < 0.05


def test_own_format_refuses_a_config_argument(tiny_model, tiny_files, tmp_path):
    path = save_zeronvs(tiny_model, tmp_path / "tiny.safetensors")
    with pytest.raises(ValueError, match="carries its own config"):
        load_zeronvs(path, config=tiny_files[1])


def test_save_needs_safetensors_suffix_and_a_plain_dtype(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        save_zeronvs(tiny_model, tmp_path / "tiny.ckpt")
    with pytest.raises(ValueError, match="float16 or torch.float32"):
        save_zeronvs(tiny_model, tmp_path / "tiny.safetensors", dtype=torch.int8)


def test_without_ema_the_live_unet_is_used_and_a_warning_says_so(tiny_state, tiny_files, tiny_oracle, tmp_path):
    state = {key: value for key, value in tiny_state.items() if not key.startswith("model_ema.")}
    path = tmp_path / "no_ema.safetensors"
    save_file(state, str(path))
    with pytest.warns(UserWarning, match=r"no EMA UNet weights"):
        model = load_zeronvs(path, config=tiny_files[1])
    assert torch.equal(model.unet.conv_out.weight, tiny_state["model.diffusion_model.out.2.weight"])
    assert (_eps(model, tiny_oracle) - tiny_oracle["eps_cond"]).abs().max() > 1e-2  # EMA != live


def test_ema_weights_replace_the_live_ones(tiny_model, tiny_state):
    assert torch.equal(tiny_model.unet.conv_out.weight, tiny_state["model_ema.diffusion_modelout2weight"])
    assert not torch.equal(tiny_model.unet.conv_out.weight, tiny_state["model.diffusion_model.out.2.weight"])


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no weight file at .*nothing.ckpt"):
        load_zeronvs(tmp_path / "nothing.ckpt")


def test_missing_config_file_is_named(tiny_files, tmp_path):
    with pytest.raises(FileNotFoundError, match="config: no LDM yaml file at .*none.yaml"):
        load_zeronvs(tiny_files[0], config=tmp_path / "none.yaml")


@pytest.mark.parametrize("suffix", [".safetensors", ".ckpt"])
def test_truncated_file_is_a_clear_error(tiny_state, tmp_path, suffix):
    path = tmp_path / f"whole{suffix}"
    if suffix == ".safetensors":
        save_file(tiny_state, str(path))
    else:
        torch.save({"state_dict": tiny_state}, path)
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    readable = r": not a readable .* \(truncated or corrupt\?\)"
    not_torch = r" is not a PyTorch checkpoint: .* \(an incomplete download, or another kind of file\?\)"
    with pytest.raises(CheckpointError, match=rf"cut\.(safetensors|ckpt)({readable}|{not_torch})"):
        load_zeronvs(cut)


class _RunsCode:
    """Unpickling this touches a marker file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_ckpt_whose_pickle_would_run_code_is_refused_not_executed(tiny_state, tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": tiny_state, "callbacks": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="refused to load.*could run code"):
        load_zeronvs(path)
    assert not marker.exists()


def test_file_of_another_kind_is_rejected(tiny_files):
    oracle = tiny_files[0].with_name("oracle.safetensors")  # tensors, but not a model
    with pytest.raises(CheckpointError, match=r"not an official ZeroNVS checkpoint: it has no UNet"):
        load_zeronvs(oracle)


def test_foreign_keys_are_listed(tiny_state, tiny_files, tmp_path):
    state = dict(tiny_state, **{"cond_stage_model.transformer.text_model.final_layer_norm.weight": torch.ones(4)})
    path = tmp_path / "sd_like.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match=r"outside the official ZeroNVS layout: .*final_layer_norm"):
        load_zeronvs(path, config=tiny_files[1])


def test_tiny_weights_with_the_released_config_report_shape_mismatches(tiny_files):
    message = r"not the released ZeroNVS architecture \(289 tensors differ.*as the config argument$"
    with pytest.raises(CheckpointError, match=message):
        load_zeronvs(tiny_files[0])  # config=None means the released (full-size) architecture


def test_wrong_camera_projection_width_is_reported(tiny_state, tiny_files, tmp_path):
    state = dict(tiny_state)
    state["cc_projection.weight"] = torch.zeros(64, 64 + 4)  # a Zero-1-to-3 style 4-d camera
    path = tmp_path / "zero123_like.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match=r"cc_projection.weight: file \[64, 68\], model \[64, 83\]"):
        load_zeronvs(path, config=tiny_files[1])


def test_zero123_camera_projection_is_widened_for_fine_tuning(tiny_state, tiny_files, tmp_path):
    state = dict(tiny_state)
    old = torch.randn(64, 64 + 4, generator=torch.Generator().manual_seed(0))
    state["cc_projection.weight"] = old
    path = tmp_path / "zero123_like.safetensors"
    save_file(state, str(path))
    model = load_zeronvs(path, config=tiny_files[1], widen_camera_projection=True)
    weight = model.cc_projection.weight
    assert weight.shape == (64, 83)
    assert torch.equal(weight[:, :64], old[:, :64])  # the CLIP block is kept, the old camera columns dropped
    assert not torch.equal(weight[:, 64:68], old[:, 64:])
    assert torch.equal(model.cc_projection.bias, tiny_state["cc_projection.bias"])
    bound = 1 / 83**0.5  # PyTorch's default Linear initialisation for the new columns
    assert weight[:, 64:].abs().max() <= bound


def test_half_precision_on_cpu_is_refused(tiny_files):
    with pytest.raises(ValueError, match="needs a CUDA device"):
        load_zeronvs(tiny_files[0], config=tiny_files[1], dtype=torch.float16)
    with pytest.raises(ValueError, match="dtype must be one of"):
        load_zeronvs(tiny_files[0], config=tiny_files[1], dtype=torch.int32)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(tiny_files):
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        load_zeronvs(tiny_files[0], config=tiny_files[1], device="cuda")


def test_attention_runs_through_sdpa(tiny_model):
    from diffusers.models.attention_processor import AttnProcessor2_0

    processors = tiny_model.unet.attn_processors
    assert processors and all(isinstance(p, AttnProcessor2_0) for p in processors.values())
    assert tiny_model.image_encoder.config._attn_implementation == "sdpa"


def test_config_json_round_trip_and_unknown_fields(tiny_model):
    config = tiny_model.config
    assert ZeroNVSConfig.from_json(config.to_json()) == config
    assert (config.resolution, config.latent_size, config.clip_dim, config.context_dim) == (64, 32, 64, 64)
    with pytest.raises(ValueError, match=r"unknown ZeroNVSConfig fields \['colour'\]"):
        ZeroNVSConfig.from_json(config.to_json()[:-1] + ', "colour": 1}')
    with pytest.raises(ValueError, match="camera_mode must be one of"):
        ZeroNVSConfig(unet={}, vae={}, image_encoder={}, camera_mode="6dof")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cuda_stays_close(tiny_files, tiny_oracle, dtype):
    model = load_zeronvs(tiny_files[0], config=tiny_files[1], device="cuda", dtype=dtype)
    oracle = {key: value.cuda() for key, value in tiny_oracle.items()}
    eps = _eps(model, oracle)
    assert eps.dtype == torch.float32
    assert (eps - oracle["eps_cond"]).abs().max() < 0.1


def test_inference_dtype_is_half_on_cuda_and_float32_elsewhere():
    assert inference_dtype("cuda") is torch.float16
    assert inference_dtype(torch.device("cuda", 1)) is torch.float16
    assert inference_dtype("cpu") is torch.float32
    assert inference_dtype("mps") is torch.float32


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_files_get_the_permissions_of_an_ordinary_new_file(tiny_model, tiny_files, tmp_path, umask):
    """safetensors' save_file alone leaves rw------- (a private temporary file renamed): the project's own
    weights, its scenes (both through save_tensors) and ``convert --comfyui`` follow the umask instead."""
    import os
    import stat

    from zeronvs_core.model.comfyui_checkpoint import save_comfyui_checkpoint

    previous = os.umask(umask)
    try:
        own = save_zeronvs(tiny_model, tmp_path / "own.safetensors")
        comfy, _ = save_comfyui_checkpoint(tiny_files[0], tmp_path / "comfy.safetensors", dtype=torch.float32)
    finally:
        os.umask(previous)
    for path in (own, comfy):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask, path
