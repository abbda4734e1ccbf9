"""``preset``, the one door from a preset name to a ``DistillConfig``; the serialised config that checkpoints
compare; the loss weights as one mapping."""

import hashlib
from dataclasses import replace

import pytest

from zeronvs_core.distill import OFFICIAL, PRESETS, loss_weights, preset, with_steps

MAIN_CONFIG_SHA256 = {  # sha256 of DistillConfig.to_json() of each preset, as written by main before issue 22
    "official": "98245a27a19c2a52e422e7ef85649f619d902495ab1b7847c951f5f90cb88e44",
    "official_dtu": "34953ddb23627aeb18a4c78937ad98ffac353f8032728c2904cf51ee37c72d79",
    "fast": "07e3cf0e40842c3e3ec93cc0fae2e87bcf49afc93de70f706da26ca15b4286cd",
    "cpu_smoke": "bed49baba7fcb36f122ebaa6b146b2b473952b706ff3e7427877b871d4c59cde",
}


def test_an_unknown_preset_names_the_choices():
    with pytest.raises(ValueError) as error:
        preset("slow")
    assert str(error.value) == "unknown preset 'slow'; choose one of official, official_dtu, fast, cpu_smoke"


def test_a_preset_by_name_is_the_recipe_itself():
    assert preset("official_dtu") == PRESETS["official_dtu"]
    assert preset("cpu_smoke", None) == PRESETS["cpu_smoke"]


def test_steps_scale_every_milestone():
    fast = preset("official", 1000)  # a quarter of 4000: every milestone at a quarter
    assert (fast.steps, fast.switch_step, fast.cameras.progressive_until, fast.anisotropic_offset) == (
        1000,
        500,
        250,
        250.0,
    )
    assert (fast.min_step_percent.end_step, fast.max_step_percent.start_step, fast.max_step_percent.end_step) == (
        250,
        250,
        625,
    )
    assert fast.checkpoint_every == 125 and fast.render_sizes == OFFICIAL.render_sizes
    assert preset("official", 1000) == with_steps(OFFICIAL, 1000)


def test_overrides_go_on_top_of_the_scaled_recipe():
    config = preset("cpu_smoke", 20, seed=3, guidance_scale=4.0)
    assert config == replace(with_steps(PRESETS["cpu_smoke"], 20), seed=3, guidance_scale=4.0)
    assert (config.steps, config.switch_step, config.seed, config.guidance_scale) == (20, 10, 3, 4.0)
    assert preset("official", seed=7) == replace(OFFICIAL, seed=7)


@pytest.mark.parametrize(
    ("args", "overrides", "message"),
    [
        (("official",), {"lambda_rgbb": 1.0}, "preset overrides must be DistillConfig fields, got lambda_rgbb"),
        (("official",), {"zeta": 1, "alpha": 2}, "preset overrides must be DistillConfig fields, got alpha, zeta"),
        (("official", 0), {}, "steps must be >= 1, got 0"),
        (("official",), {"checkpoint_every": 0}, "checkpoint_every must be >= 1, got 0"),
    ],
)
def test_bad_steps_and_overrides(args, overrides, message):
    with pytest.raises(ValueError) as error:
        preset(*args, **overrides)
    assert str(error.value) == message


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_serialised_config_is_mains_so_old_checkpoints_resume(name):
    assert hashlib.sha256(PRESETS[name].to_json().encode()).hexdigest() == MAIN_CONFIG_SHA256[name]


def test_loss_weights_map_each_term_to_its_field():
    dtu = PRESETS["official_dtu"]
    assert loss_weights(dtu) == {"sds": 0.1, "rgb": 1500.0, "normal_smooth": 8.0, "orient": 5.0, "opaque": 0.1}
    assert loss_weights(replace(OFFICIAL, lambda_orient=2.0))["orient"] == 2.0


def test_the_names_of_the_former_module_import_from_the_package():
    from zeronvs_core import progress
    from zeronvs_core.distill import (
        CHECKPOINT_NAME,
        GRAPH_OVERHEAD,
        READBACK_EVERY,
        DistillConfig,
        DistillResult,
        ProgressCallback,
        distill,
        sds_loss,
    )
    from zeronvs_core.distill.loop import distill as loop_distill
    from zeronvs_core.distill.losses import sds_loss as losses_sds_loss

    assert (CHECKPOINT_NAME, READBACK_EVERY, GRAPH_OVERHEAD) == ("last.ckpt", 20, 2.0)
    assert distill is loop_distill and sds_loss is losses_sds_loss and ProgressCallback is progress.ProgressCallback
    assert DistillResult.__dataclass_fields__["start_step"].default == 0 and DistillConfig().steps == 4000
