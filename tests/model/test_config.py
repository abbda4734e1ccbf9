"""``ZeroNVSConfig``: the released architecture read from the LDM config, its derived sizes, the JSON round
trip, the CLIP tower read from tensor shapes (worked for ViT-B/16 by hand) and the errors on bad configs."""

import copy

import pytest

from zeronvs_core.model.config import (
    CLIP_VISUAL_PREFIX,
    RELEASED_LDM_CONFIG,
    ZeroNVSConfig,
    clip_vision_config_from_shapes,
    config_from_ldm,
    read_ldm_config,
)


def test_released_config_and_its_derived_sizes():
    config = config_from_ldm(read_ldm_config(None))
    assert (config.resolution, config.latent_size, config.latent_channels) == (256, 32, 4)
    assert (config.clip_dim, config.camera_dim, config.context_dim) == (768, 19, 768)
    assert config.unet["in_channels"] == 8  # noisy latent + concat latent of the input view
    assert (config.num_train_timesteps, config.beta_start, config.beta_end) == (1000, 0.00085, 0.012)
    assert (config.scale_factor, config.camera_mode) == (0.18215, "7dof_quantile_scale")
    assert config.image_encoder["num_hidden_layers"] == 24 and config.image_encoder["patch_size"] == 14


def test_json_round_trip_and_unknown_fields():
    config = config_from_ldm(RELEASED_LDM_CONFIG)
    assert ZeroNVSConfig.from_json(config.to_json()) == config
    text = config.to_json()[:-1] + ', "guidance": 3}'
    with pytest.raises(ValueError, match=r"unknown ZeroNVSConfig fields \['guidance'\]"):
        ZeroNVSConfig.from_json(text)
    with pytest.raises(ValueError, match="camera_mode must be one of"):
        ZeroNVSConfig(unet={}, vae={}, image_encoder={}, camera_mode="6dof")


def test_clip_tower_of_vit_b16_from_shapes_by_hand():
    shapes = {
        "conv1.weight": (768, 3, 16, 16),
        "positional_embedding": (197, 768),  # 14 x 14 patches + class token
        "proj": (768, 512),
        **{f"transformer.resblocks.{i}.mlp.c_fc.weight": (3072, 768) for i in range(12)},
    }
    vision = clip_vision_config_from_shapes({CLIP_VISUAL_PREFIX + key: shape for key, shape in shapes.items()})
    assert vision["hidden_size"] == 768 and vision["num_attention_heads"] == 12 and vision["num_hidden_layers"] == 12
    assert (vision["image_size"], vision["patch_size"], vision["projection_dim"]) == (224, 16, 512)
    assert vision["intermediate_size"] == 3072
    with pytest.raises(ValueError, match="no OpenAI CLIP image tower: missing"):
        clip_vision_config_from_shapes({CLIP_VISUAL_PREFIX + "conv1.weight": (768, 3, 16, 16)})


def test_bad_ldm_configs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="config: no LDM yaml file at"):
        read_ldm_config(tmp_path / "missing.yaml")
    (tmp_path / "other.yaml").write_text("data: {}\n")
    with pytest.raises(ValueError, match="is not an LDM config"):
        read_ldm_config(tmp_path / "other.yaml")
    broken = copy.deepcopy(RELEASED_LDM_CONFIG)
    del broken["model"]["params"]["conditioning_config"]
    with pytest.raises(ValueError, match="lacks a required entry"):
        config_from_ldm(broken)
    wrong = copy.deepcopy(RELEASED_LDM_CONFIG)
    wrong["model"]["params"]["conditioning_config"]["params"]["embedding_dim"] = 4
    with pytest.raises(ValueError, match=r"embedding_dim 4 does not match mode '7dof_quantile_scale' \(19\)"):
        config_from_ldm(wrong)
