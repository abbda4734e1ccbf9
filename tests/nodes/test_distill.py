"""SDS Distiller: Cancel stops it at the next step, progress carries previews, anchoring needs anchors."""

import pytest

from zeronvs_core.camera_set import CameraSet
from zeronvs_core.cameras import orbit_path


@pytest.fixture
def inputs(comfy, photo):
    (model,) = comfy.execute("ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="cpu", precision="fp32")
    cameras = CameraSet(52.55, 31.0, orbit_path(2, 31.0))
    return {"model": model, "image": photo, "cameras": cameras, "scale": 0.7, "seed": 0, "memory_budget_gib": 0.0}


def test_an_interrupt_stops_distillation_at_the_next_step(comfy, inputs):
    management = comfy.model_management

    def press_cancel(value, total, preview):  # the user presses Cancel while step 1 is shown
        management.interrupt_current_processing(True)

    comfy.utils.HOOK = press_cancel
    try:
        with pytest.raises(management.InterruptProcessingException):
            comfy.execute(
                "ZeroNVS_SDSDistiller", **inputs, preset="cpu_smoke", steps=5, guidance_scale=9.5, anchoring=False
            )
    finally:
        comfy.utils.HOOK = None
    assert len(comfy.utils.UPDATES) == 1  # step 2 never reported: the check at its end raised
    step, total, (kind, image, size) = comfy.utils.UPDATES[0]
    assert (step, total, kind, image.size) == (1, 5, "JPEG", (16, 16))


def test_anchoring_without_anchors_is_a_clear_error(comfy, inputs):
    with pytest.raises(ValueError, match="add an Anchor Generator"):
        comfy.execute("ZeroNVS_SDSDistiller", **inputs, preset="cpu_smoke", steps=1, guidance_scale=9.5, anchoring=True)


class _Captured(Exception):
    """Raised by the stand-in ``distill`` to hand back the config the node built, before any work."""


def _config_of(comfy, inputs, monkeypatch, **widgets):
    """The ``DistillConfig`` the SDS Distiller passes to ``distill`` for these widget values."""
    import zeronvs_core.distill

    def capture(model, image, fov_deg, elevation_deg, scale, config, **kwargs):
        raise _Captured(config)

    monkeypatch.setattr(zeronvs_core.distill, "distill", capture)
    with pytest.raises(_Captured) as caught:
        comfy.execute("ZeroNVS_SDSDistiller", **inputs, anchoring=False, **widgets)
    return caught.value.args[0]


@pytest.mark.parametrize(("preset", "expected"), [("official_dtu", 7.5), ("official", 9.5), ("cpu_smoke", 9.5)])
def test_guidance_zero_keeps_the_presets(comfy, inputs, monkeypatch, preset, expected):
    from dataclasses import replace

    from zeronvs_core.distill import PRESETS

    config = _config_of(comfy, inputs, monkeypatch, preset=preset, steps=0, guidance_scale=0.0)
    assert config.guidance_scale == expected
    assert config == replace(
        PRESETS[preset], seed=0, anchoring=replace(PRESETS[preset].anchoring, count=0), memory_budget_gib="auto"
    )


def test_a_nonzero_guidance_replaces_the_presets(comfy, inputs, monkeypatch):
    config = _config_of(comfy, inputs, monkeypatch, preset="official_dtu", steps=0, guidance_scale=5.0)
    assert config.guidance_scale == 5.0


def test_guidance_defaults_to_the_presets(comfy):
    schema = comfy.classes["ZeroNVS_SDSDistiller"].define_schema()
    assert next(item for item in schema.inputs if item.id == "guidance_scale").default == 0.0


def _preset_default(comfy) -> str:
    schema = comfy.classes["ZeroNVS_SDSDistiller"].define_schema()
    return next(item for item in schema.inputs if item.id == "preset").default


def test_the_default_preset_is_the_command_lines_for_comfyuis_device(comfy, monkeypatch):
    import torch

    assert _preset_default(comfy) == "cpu_smoke"  # the fake ComfyUI runs on the CPU, as with --cpu
    monkeypatch.setattr(comfy.model_management, "get_torch_device", lambda: torch.device("cuda", 0))
    assert _preset_default(comfy) == "fast"


@pytest.mark.parametrize(("widget", "expected"), [(0.0, "auto"), (2.5, 2.5), (12.0, 12.0)])
def test_the_memory_budget_reaches_distill(comfy, inputs, monkeypatch, widget, expected):
    """0 is the library's ``"auto"``; any other value is ``DistillConfig.memory_budget_gib`` in GiB, and the
    config equals the one ``zeronvs orbit --memory-budget-gib`` builds from the same preset."""
    from dataclasses import replace

    from zeronvs_core.distill import PRESETS

    inputs = {**inputs, "memory_budget_gib": widget}
    config = _config_of(comfy, inputs, monkeypatch, preset="cpu_smoke", steps=0, guidance_scale=0.0)
    assert config.memory_budget_gib == expected
    library = replace(PRESETS["cpu_smoke"], seed=0, anchoring=replace(PRESETS["cpu_smoke"].anchoring, count=0))
    assert config == replace(library, memory_budget_gib=expected)


def test_the_memory_budget_widget_defaults_to_auto(comfy):
    schema = comfy.classes["ZeroNVS_SDSDistiller"].define_schema()
    widget = next(item for item in schema.inputs if item.id == "memory_budget_gib")
    assert (widget.default, widget.min) == (0.0, 0.0)
