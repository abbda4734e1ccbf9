"""Load ZeroNVS Model: the files it offers, loading through ComfyUI's model management, bad choices."""

import shutil

import pytest
import torch
from safetensors.torch import save_file

from zeronvs_core.model import ZeroNVSModel


def _options(comfy) -> list:
    (model_name,) = [
        item for item in comfy.classes["ZeroNVS_LoadModel"].define_schema().inputs if item.id == "model_name"
    ]
    return model_name.options


def _safetensors(path, keys, metadata=None):
    save_file({key: torch.zeros(2) for key in keys}, str(path), metadata=metadata)


def test_offers_the_demo_model_then_zeronvs_models_only(load_pack, comfy_home, tiny_model_file):
    zeronvs, checkpoints = comfy_home / "models" / "zeronvs", comfy_home / "models" / "checkpoints"
    (zeronvs / "notes.txt").write_text("not a weight file")
    (zeronvs / "zeronvs.ckpt").write_bytes(b"pickled, so not opened")  # models/zeronvs declares it
    (zeronvs / "truncated.safetensors").write_bytes(b"\xff" * 16)
    _safetensors(checkpoints / "sd15.safetensors", ["model.diffusion_model.input.weight", "first_stage_model.w"])
    _safetensors(checkpoints / "lora.safetensors", ["lora_unet.weight"], {"format": "pt"})
    _safetensors(checkpoints / "official.safetensors", ["model.diffusion_model.input.weight", "cc_projection.weight"])
    shutil.copy(tiny_model_file, checkpoints / "own-format.safetensors")
    (checkpoints / "sd15.ckpt").write_bytes(b"pickled: cannot be checked, not offered from checkpoints")
    comfy = load_pack()
    assert _options(comfy) == [
        "zeronvs-mini",
        "tiny-zeronvs.safetensors",
        "zeronvs.ckpt",
        "official.safetensors",
        "own-format.safetensors",
    ]
    paths, extensions = comfy.folder_paths.folder_names_and_paths["zeronvs"]
    assert paths == [str(zeronvs)] and ".safetensors" in extensions


def test_the_zeronvs_folder_is_created_when_missing(load_pack, comfy_home):
    shutil.rmtree(comfy_home / "models" / "zeronvs")
    comfy = load_pack()
    assert (comfy_home / "models" / "zeronvs").is_dir()
    assert _options(comfy) == ["zeronvs-mini"]


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
