"""Content hashes (SHA-256, hex) that tie a run to its inputs: a file, a photo's pixels, a model's weights.

A distillation checkpoint and ``run.json`` record them, so that resuming with another photo or another
model (or the same path with other content) is refused instead of silently continuing.
"""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path

import torch

__all__ = ["file_sha256", "photo_sha256", "weights_sha256"]

_CHUNK = 1 << 20
_weights_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def file_sha256(path) -> str:
    """SHA-256 of the bytes of the file at ``path``, read in 1 MiB chunks.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError: as ``open`` does.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def photo_sha256(image: torch.Tensor) -> str:
    """SHA-256 of a photo as the model sees it: ``image`` ``[1,C,H,W]`` in [0,1] (C = 1, 3 or 4) composited
    on white (``images.composite_on_white``), as float32 on the CPU, with its shape. An opaque RGBA photo
    and its RGB version hash alike; another alpha, another crop or size, or one changed pixel do not."""
    from .images import composite_on_white

    rgb = composite_on_white(image.detach().float()).cpu().contiguous()
    digest = hashlib.sha256(repr(tuple(rgb.shape)).encode())
    digest.update(rgb.numpy().tobytes())
    return digest.hexdigest()


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of every tensor of ``module.state_dict()`` (names in sorted order, with dtype, shape and
    bytes), so the same weights hash alike whatever file they came from, but not across dtypes.

    The digest is cached per module until a tensor is replaced or changed in place (PyTorch's version
    counter), so asking again costs nothing; the first call reads every weight once (about 2 s per GB)."""
    state = module.state_dict()
    signature = tuple((key, value.data_ptr(), value._version) for key, value in sorted(state.items()))
    cached = _weights_cache.get(module)
    if cached is not None and cached[0] == signature:
        return cached[1]
    digest = hashlib.sha256()
    for key, value in sorted(state.items()):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    _weights_cache[module] = (signature, digest.hexdigest())
    return _weights_cache[module][1]
