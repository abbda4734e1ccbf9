"""Load ZeroNVS Model: the files it offers, loading through ComfyUI's model management, bad choices."""

import pytest
import torch

from zeronvs_core.model import ZeroNVSModel


def _options(comfy) -> list:
    (model_name,) = [
        item for item in comfy.classes["ZeroNVS_LoadModel"].define_schema().inputs if item.id == "model_name"
    ]
    return model_name.options


def test_offers_the_demo_model_then_zeronvs_and_checkpoint_files(load_pack, comfy_home):
    (comfy_home / "models" / "zeronvs" / "notes.txt").write_text("not a weight file")
    (comfy_home / "models" / "checkpoints" / "sd15.safetensors").write_bytes(b"")
    comfy = load_pack()
    assert _options(comfy) == ["zeronvs-mini", "tiny-zeronvs.safetensors", "sd15.safetensors"]
    paths, extensions = comfy.folder_paths.folder_names_and_paths["zeronvs"]
    assert paths == [str(comfy_home / "models" / "zeronvs")] and ".safetensors" in extensions


def test_loads_into_a_model_patcher_that_comfyui_loads_before_use(comfy):
    (handle,) = comfy.execute(
        "ZeroNVS_LoadModel", model_name="tiny-zeronvs.safetensors", device="auto", precision="auto"
    )
    assert handle.patcher.load_device == torch.device("cpu") and comfy.model_management.LOADED == []
    model = handle.ready()
    assert isinstance(model, ZeroNVSModel) and model.dtype == torch.float32
    assert comfy.model_management.LOADED == [handle.patcher]


def test_the_embedded_demo_model_loads(comfy):
    (handle,) = comfy.execute("ZeroNVS_LoadModel", model_name="zeronvs-mini", device="cpu", precision="fp32")
    model = handle.ready()
    assert model.config.resolution == 64 and model.config.latent_size == 16


@pytest.mark.parametrize(
    ("inputs", "error", "message"),
    [
        ({"precision": "fp16"}, ValueError, "precision fp16 needs a GPU"),
        ({"device": "tpu"}, ValueError, "device must be one of"),
        ({"model_name": "missing.safetensors"}, FileNotFoundError, "missing.safetensors"),
    ],
)
def test_bad_choices_are_clear_errors(comfy, inputs, error, message):
    chosen = {"model_name": "tiny-zeronvs.safetensors", "device": "cpu", "precision": "fp32", **inputs}
    with pytest.raises(error, match=message):
        comfy.execute("ZeroNVS_LoadModel", **chosen)
