"""The released architecture, built without weights, takes every key of the released checkpoint
(``zeronvs_full_manifest.json``: the 1938 keys and shapes of the official ``LatentDiffusion``)."""

import json
from pathlib import Path

import pytest
import torch

from zeronvs_core.model.config import RELEASED_LDM_CONFIG, config_from_ldm
from zeronvs_core.model.loading import _assign, build_empty_model
from zeronvs_core.model.official import UNUSED_OFFICIAL_KEYS, convert_official_weights
from zeronvs_core.tensor_files import CheckpointError

MANIFEST = Path(__file__).parents[1] / "fixtures" / "zeronvs_full_manifest.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def meta_state(manifest) -> dict[str, torch.Tensor]:
    """The released checkpoint's state dict as meta tensors (shapes and dtypes, no data)."""
    return {
        key: torch.empty(entry["shape"], dtype=getattr(torch, entry["dtype"]), device="meta")
        for key, entry in manifest["keys"].items()
    }


def test_released_config_from_the_checkpoint_shapes(meta_state):
    config = config_from_ldm(RELEASED_LDM_CONFIG, {key: value.shape for key, value in meta_state.items()})
    assert config == config_from_ldm(RELEASED_LDM_CONFIG)  # ViT-L/14 is the default image tower
    assert config.image_encoder["hidden_size"] == 1024
    assert config.image_encoder["num_hidden_layers"] == 24
    assert config.image_encoder["num_attention_heads"] == 16
    assert config.image_encoder["projection_dim"] == 768
    assert config.unet["in_channels"] == 8
    assert config.unet["block_out_channels"] == [320, 640, 1280, 1280]
    assert (config.resolution, config.latent_size, config.camera_dim) == (256, 32, 19)


def test_every_key_maps_onto_the_meta_model(meta_state, manifest):
    config = config_from_ldm(RELEASED_LDM_CONFIG)
    converted = convert_official_weights(meta_state, config)
    assert converted.used_ema
    live_unet = {key for key in meta_state if key.startswith("model.diffusion_model.")}
    assert set(converted.ignored) == set(UNUSED_OFFICIAL_KEYS) | live_unet
    assert len(UNUSED_OFFICIAL_KEYS) == 20

    model = build_empty_model(config)
    assert all(p.device.type == "meta" for p in model.parameters())
    _assign(model, converted.state_dict, Path("zeronvs.ckpt"))  # raises on any missing/unexpected/mis-shaped key
    expected_params = (
        sum(
            manifest["param_counts_per_prefix"][prefix]["n_elements"]
            for prefix in ("model_ema.", "first_stage_model.", "cond_stage_model.model.visual.", "cc_projection.")
        )
        - 2
    )  # model_ema.decay and model_ema.num_updates
    assert sum(p.numel() for p in model.parameters()) == expected_params


def test_an_extra_key_is_reported_by_name(meta_state):
    state = dict(meta_state, **{"model.some_new_head.weight": torch.empty(3, device="meta")})
    with pytest.raises(CheckpointError, match=r"outside the official ZeroNVS layout: 1 key\(s\): model.some_new_head"):
        convert_official_weights(state, config_from_ldm(RELEASED_LDM_CONFIG))


def test_a_missing_ema_tensor_is_reported(meta_state):
    state = dict(meta_state)
    del state["model_ema.diffusion_modelout2weight"]
    with pytest.raises(CheckpointError, match=r"lacks tensors for 1 key\(s\): unet.conv_out.weight"):
        convert_official_weights(state, config_from_ldm(RELEASED_LDM_CONFIG))
