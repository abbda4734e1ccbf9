"""SDS Distiller: Cancel stops it at the next step, progress carries previews, anchoring needs anchors."""

import pytest

from zeronvs_core.camera_set import CameraSet, orbit_arc


@pytest.fixture
def inputs(comfy, photo):
    (model,) = comfy.execute("ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="cpu", precision="fp32")
    cameras = CameraSet(52.55, 31.0, orbit_arc(2, 31.0))
    return {"model": model, "image": photo, "cameras": cameras, "scale": 0.7, "seed": 0}


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
