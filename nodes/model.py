"""Load ZeroNVS Model: a checkpoint from ``models/zeronvs`` or ``models/checkpoints``, or the embedded
demo model, handed to ComfyUI's model management (a ``ModelPatcher``): ComfyUI moves it to the GPU when
a node needs it and back to the CPU when other models need the memory.

Only ZeroNVS models are offered, so that ordinary Stable Diffusion checkpoints do not appear:

- ``.safetensors`` files, from either folder, whose header says they are ZeroNVS models
  (``zeronvs_core.model.info.is_zeronvs_safetensors``: the project's format or the official key layout;
  only the JSON header is read);
- ``.ckpt``/``.pt``/``.pth``/``.bin`` files from ``models/zeronvs`` only: what a pickled file holds cannot be
  known without unpickling it, which a listing must not do, so the folder itself is the declaration (put the
  official ``zeronvs.ckpt`` there). Such files in ``models/checkpoints`` are not offered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .comfy_io import check_choice, io
from .types import MODEL

try:
    import folder_paths
except ImportError:  # no ComfyUI: only the demo model is offered
    folder_paths = None

__all__ = ["DEVICES", "FOLDER", "PRECISIONS", "LoadModel", "ModelHandle", "register_folder"]

_TORCH_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")

FOLDER = "zeronvs"
"""The model folder this pack adds: ``<ComfyUI>/models/zeronvs`` (also usable in extra_model_paths.yaml)."""
DEVICES = ("auto", "cpu")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def register_folder() -> None:
    """Add ``models/zeronvs`` to ComfyUI's model folders (creating it if missing), listing weight files only."""
    if folder_paths is None:
        return
    path = os.path.join(folder_paths.models_dir, FOLDER)
    os.makedirs(path, exist_ok=True)
    if FOLDER in folder_paths.folder_names_and_paths:
        folder_paths.add_model_folder_path(FOLDER, path)
    else:
        folder_paths.folder_names_and_paths[FOLDER] = ([path], set(folder_paths.supported_pt_extensions))


def _model_folders() -> tuple[str, ...]:
    """The ComfyUI model folders whose files are offered: this pack's, then ``checkpoints``."""
    return () if folder_paths is None else (FOLDER, "checkpoints")


def _model_names() -> list[str]:
    from zeronvs_core.model.demo import DEMO_MODEL_NAME

    names = [DEMO_MODEL_NAME]
    for folder in _model_folders():
        names += [
            name for name in folder_paths.get_filename_list(folder) if name not in names and _offered(folder, name)
        ]
    return names


def _offered(folder: str, name: str) -> bool:
    """Whether the file ``name`` of ``folder`` is offered: see the module docstring."""
    from zeronvs_core.model.info import is_zeronvs_safetensors

    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".safetensors":
        return is_zeronvs_safetensors(folder_paths.get_full_path(folder, name))
    return suffix in _TORCH_SUFFIXES and folder == FOLDER


def _model_path(name: str):
    """The file of a ``model_name`` choice: the demo model, or a file in one of the model folders."""
    from zeronvs_core.model import DEMO_MODEL_NAME, demo_model_path

    if name == DEMO_MODEL_NAME:
        return demo_model_path()
    for folder in _model_folders():
        path = folder_paths.get_full_path(folder, name)
        if path is not None:
            return path
    raise FileNotFoundError(
        f"model {name!r} is neither {DEMO_MODEL_NAME} nor a file in models/{FOLDER} or models/checkpoints"
    )


@dataclass(frozen=True)
class ModelHandle:
    """A loaded ZeroNVS model inside a ComfyUI ``ModelPatcher`` (as ``patcher.model["zeronvs"]``)."""

    patcher: Any

    def ready(self):
        """The ``ZeroNVSModel``, on its device: ComfyUI loads it there first, making room if needed.
        Its weights are moved outside ComfyUI's inference mode, so SDS can backpropagate through them."""
        import comfy.model_management
        import torch

        with torch.inference_mode(False):
            comfy.model_management.load_models_gpu([self.patcher], force_full_load=True)
        return self.patcher.model["zeronvs"]


class LoadModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        names = _model_names()
        return io.Schema(
            node_id="ZeroNVS_LoadModel",
            display_name="Load ZeroNVS Model",
            category="ZeroNVS/loaders",
            description="Loads a ZeroNVS diffusion model: the official zeronvs.ckpt, a file converted by "
            "'zeronvs convert', or the embedded demo model.",
            inputs=[
                io.Combo.Input(
                    "model_name",
                    options=names,
                    default=names[0],
                    tooltip=f"A ZeroNVS model in models/{FOLDER} or models/checkpoints (.safetensors checked by "
                    f"header; .ckpt files only from models/{FOLDER}), or {names[0]}, the small demo model inside "
                    "the pack (trained on synthetic scenes; for trying things out).",
                ),
                io.Combo.Input(
                    "device",
                    options=list(DEVICES),
                    default="auto",
                    tooltip="auto: ComfyUI's device (the GPU unless ComfyUI runs with --cpu); cpu: always the CPU.",
                ),
                io.Combo.Input(
                    "precision",
                    options=list(PRECISIONS),
                    default="auto",
                    tooltip="Weight precision. auto: fp16 where ComfyUI would use it, else fp32. "
                    "fp16 and bf16 need a GPU.",
                ),
            ],
            outputs=[
                MODEL.Output(
                    display_name="model", tooltip="The ZeroNVS diffusion model, under ComfyUI's model management."
                )
            ],
        )

    @classmethod
    def execute(cls, model_name: str, device: str, precision: str):
        return io.NodeOutput(load_model(model_name, device, precision))


def load_model(model_name: str, device: str, precision: str) -> ModelHandle:
    """Load ``model_name`` on the CPU in the chosen precision and wrap it in a ``ModelPatcher`` whose load
    device is ``device`` (ComfyUI's choice for ``auto``)."""
    import comfy.model_management
    import comfy.model_patcher
    import torch

    from zeronvs_core.model import load_zeronvs

    check_choice("device", device, DEVICES)
    check_choice("precision", precision, PRECISIONS)
    cpu = torch.device("cpu")
    load_device = cpu if device == "cpu" else comfy.model_management.get_torch_device()
    offload_device = cpu if device == "cpu" else comfy.model_management.unet_offload_device()
    dtype = _dtype(precision, load_device)
    with torch.inference_mode(False):  # ComfyUI runs nodes in inference mode; SDS needs normal weight tensors
        model = load_zeronvs(_model_path(model_name)).to(dtype)  # stays on the CPU until a node needs it
    holder = torch.nn.ModuleDict({"zeronvs": model})  # ModelPatcher sets .device, which ZeroNVSModel computes
    return ModelHandle(comfy.model_patcher.ModelPatcher(holder, load_device, offload_device))


def _dtype(precision: str, device):
    import comfy.model_management
    import torch

    if precision == "auto":
        on_gpu = device.type != "cpu" and comfy.model_management.should_use_fp16(device)
        return torch.float16 if on_gpu else torch.float32
    if precision != "fp32" and device.type == "cpu":
        raise ValueError(f"precision {precision} needs a GPU; choose fp32 or auto on the CPU")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
