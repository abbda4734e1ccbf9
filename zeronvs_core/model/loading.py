"""``load_zeronvs`` and ``save_zeronvs``: official checkpoints and the project's own format.

The project's own format is one ``.safetensors`` file holding the ``ZeroNVSModel`` state dict (float16
or float32) with the ``ZeroNVSConfig`` as JSON in the header metadata (``format: zeronvs``).

Loading builds the model without allocating weights (parameters on the meta device), then assigns
the file's tensors to it, read one at a time and cast as they are read, so the weights are never held
twice in memory.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..device_runtime import prefer_expandable_segments
from ..tensor_files import CheckpointError, WeightFile, save_tensors
from .config import ZeroNVSConfig, config_from_ldm, read_ldm_config
from .official import check_official_layout, convert_official_weights, format_keys
from .zeronvs import ZeroNVSModel

__all__ = ["FORMAT_NAME", "build_empty_model", "check_destination", "inference_dtype", "load_zeronvs", "save_zeronvs"]

FORMAT_NAME = "zeronvs"
_FORMAT_VERSION = "1"
_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def inference_dtype(device) -> torch.dtype:
    """The weights' dtype used on ``device`` when none is asked for: float16 on CUDA (half the memory,
    what the official inference uses), float32 elsewhere (``load_zeronvs`` refuses half precision on the CPU)."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def load_zeronvs(
    path, config=None, device="cpu", dtype: torch.dtype = torch.float32, widen_camera_projection: bool = False
) -> ZeroNVSModel:
    """Load a ZeroNVS model for inference (eval mode, no gradients on its weights).

    Args:
        path: an official checkpoint (``.ckpt`` PyTorch-Lightning file with weights under
            ``state_dict``, or ``.safetensors`` with the same keys; the EMA UNet weights are used), or
            a file in the project's own format (written by ``save_zeronvs``).
        config: for official checkpoints only, the LDM yaml (path or dict) when the architecture is
            not the released one; ``None`` means the released ``zeronvs_config.yaml``.
        device: where the model goes (``"cpu"``, ``"cuda"``, ...).
        dtype: float32, or float16/bfloat16 on CUDA.
        widen_camera_projection: for fine-tuning a Zero-1-to-3 checkpoint (``cc_projection`` 772 -> 768):
            keep its CLIP block and bias, and give the wider camera vector freshly initialised columns,
            as the official ``main.py`` does.

    Raises:
        FileNotFoundError: no file at ``path`` (or at ``config``).
        CheckpointError: an unreadable, unsafe or unexpected file (the message says which keys).
        ValueError: an unsupported dtype/device combination.
    """
    device = torch.device(device)
    _check_device_and_dtype(device, dtype)
    prefer_expandable_segments(device)  # before the first CUDA allocation: see device_runtime
    weights = WeightFile(path, dtype=dtype)
    if weights.metadata.get("format") == FORMAT_NAME:
        if config is not None:
            raise ValueError(f"config: {weights.path} carries its own config; pass config=None")
        model_config = ZeroNVSConfig.from_json(weights.metadata["config"])
        state = {key: weights[key] for key in weights}
    else:
        check_official_layout(weights)
        model_config = config_from_ldm(read_ldm_config(config), weights.shapes)
        state = convert_official_weights(weights, model_config).state_dict
    model = build_empty_model(model_config)
    if widen_camera_projection:
        state = _widened_camera_projection(state, model_config)
    if config is None and weights.metadata.get("format") != FORMAT_NAME:
        _check_released_architecture(model, state, weights.path)
    _assign(model, state, weights.path)
    del state
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)


def save_zeronvs(model: ZeroNVSModel, path, dtype: torch.dtype = torch.float16) -> Path:
    """Write ``model`` in the project's own format (one ``.safetensors`` file, config in its header).

    Args:
        model: a ``ZeroNVSModel``.
        path: destination, must end in ``.safetensors``.
        dtype: float16 (half the size; what inference on CUDA uses) or float32 (exact).
    """
    path = check_destination(path)
    if dtype not in (torch.float16, torch.float32):
        raise ValueError(f"dtype must be torch.float16 or torch.float32, got {dtype}")
    state = {key: value.detach().to("cpu", dtype) for key, value in model.state_dict().items()}
    metadata = {"format": FORMAT_NAME, "format_version": _FORMAT_VERSION, "config": model.config.to_json()}
    return save_tensors(state, path, metadata)


def check_destination(path) -> Path:
    """``path`` as a ``Path`` if ``save_zeronvs`` can write there: it ends in ``.safetensors`` and is not a
    folder. Raises ``ValueError`` (the suffix) or ``IsADirectoryError`` naming ``path``."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"destination {path} must end in .safetensors (the project's format)")
    if path.is_dir():
        raise IsADirectoryError(f"destination {path} is a folder; give a file name ending in .safetensors")
    return path


def build_empty_model(config: ZeroNVSConfig) -> ZeroNVSModel:
    """A ``ZeroNVSModel`` whose parameters are on the meta device (no memory); buffers stay real."""
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return ZeroNVSModel(config)


def _assign(model: ZeroNVSModel, state: dict[str, torch.Tensor], path: Path) -> None:
    """Check names and shapes against the model, then make the tensors its parameters (no copy)."""
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(key for key in set(expected) & set(state) if tuple(state[key].shape) != expected[key])
    problems = []
    if missing:
        problems.append(f"missing {format_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected {format_keys(unexpected)}")
    if wrong:
        shown = "; ".join(f"{key}: file {list(state[key].shape)}, model {list(expected[key])}" for key in wrong[:6])
        problems.append(f"{len(wrong)} shape mismatch(es): {shown}")
    if problems:
        raise CheckpointError(
            f"{path} does not match the model architecture (wrong model or wrong config?): " + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True, assign=True)


def _check_released_architecture(model: ZeroNVSModel, state: dict[str, torch.Tensor], path: Path) -> None:
    """One sentence, instead of every key, when an official-layout file loaded without a config does not
    have the released architecture's shapes (a differently sized model, such as a fine-tune or a test
    model): it names one differing tensor and the ``config`` argument (the CLI says ``--config``)."""
    expected = model.state_dict()
    wrong = [key for key in expected if key in state and tuple(state[key].shape) != tuple(expected[key].shape)]
    if not wrong:
        return
    key = "unet.conv_in.weight" if "unet.conv_in.weight" in wrong else wrong[0]
    raise CheckpointError(
        f"{path} has the official key layout but not the released ZeroNVS architecture ({len(wrong)} tensors "
        f"differ in shape, e.g. {key}: {list(state[key].shape)} in the file, {list(expected[key].shape)} "
        "released); pass the LDM yaml it was trained with as the config argument"
    )


def _widened_camera_projection(state: dict[str, torch.Tensor], config: ZeroNVSConfig) -> dict[str, torch.Tensor]:
    """``state`` with a narrower ``cc_projection.weight`` widened to ``clip_dim + camera_dim`` inputs: the
    CLIP block is kept, the camera columns get PyTorch's default ``Linear`` initialisation."""
    weight = state["cc_projection.weight"]
    wanted = config.clip_dim + config.camera_dim
    if weight.shape[1] == wanted:
        return state
    if weight.shape[0] != config.context_dim or not config.clip_dim < weight.shape[1] < wanted:
        raise CheckpointError(
            f"cc_projection.weight {list(weight.shape)} cannot be widened to [{config.context_dim}, {wanted}]"
        )
    fresh = torch.nn.Linear(wanted, config.context_dim).weight.detach().to(weight.dtype)
    fresh[:, : config.clip_dim] = weight[:, : config.clip_dim]
    return {**state, "cc_projection.weight": fresh}


def _check_device_and_dtype(device: torch.device, dtype: torch.dtype) -> None:
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was asked for, but torch sees no CUDA device; use device='cpu'")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype}")
    if device.type == "cpu" and dtype != torch.float32:
        raise ValueError(f"dtype {dtype} needs a CUDA device; use torch.float32 on the CPU")
