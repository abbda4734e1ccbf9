"""Tensor files: read weight files safely and lazily, write ``.safetensors`` files with a JSON header.

Reading handles ``.safetensors`` and PyTorch ``.ckpt``/``.pt``/``.pth``/``.bin``.

A ``WeightFile`` is a read-only mapping from key to tensor that reads each tensor when it is asked for
(safetensors) or memory-maps the file (``torch.load(weights_only=True, mmap=True)``), so opening a
multi-gigabyte checkpoint costs no memory and only the tensors a model uses are ever read. No pickled
code runs: ``weights_only=True`` refuses anything but tensors and plain containers.

Writing (``save_tensors``) is the one place the project's own files are made: the model file
(``model/loading.py``) and the distilled scene file (``render.py``) are both ``.safetensors`` with string
metadata in the header (a ``format`` tag plus JSON configs), read back with ``WeightFile(path).metadata``.
"""

from __future__ import annotations

import os
import pickle
import re
import stat
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

__all__ = ["CheckpointError", "WeightFile", "save_tensors"]

_TORCH_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
_LEGACY_TORCH_START = bytes.fromhex("80028a0a6cfc9c46f9206aa85019")
"""How ``torch.save(..., _use_new_zipfile_serialization=False)`` files begin: pickle protocol 2, then
PyTorch's magic number 0x1950a86a20f9469cfc6c."""


def _sniff(path: Path) -> str | None:
    """What the bytes of ``path`` are: ``"zip"`` (torch.save), ``"legacy"`` (old torch.save),
    ``"safetensors"`` (an 8-byte little-endian header length, then a JSON header), or ``None``."""
    size = path.stat().st_size
    with path.open("rb") as stream:
        if zipfile.is_zipfile(stream):
            return "zip"
        stream.seek(0)
        start = stream.read(len(_LEGACY_TORCH_START))
    if start == _LEGACY_TORCH_START:
        return "legacy"
    if len(start) > 8 and 0 < int.from_bytes(start[:8], "little") <= size - 8 and start[8:9] == b"{":
        return "safetensors"
    return None


class CheckpointError(ValueError):
    """A weight file that cannot be used: unreadable, unsafe, or not the expected model."""


class WeightFile(Mapping):
    """Lazy ``{key: tensor}`` view of a weight file; floating tensors are cast to ``dtype`` as they
    are read. ``metadata`` is the safetensors header metadata (``{}`` for torch files)."""

    def __init__(self, path, dtype: torch.dtype | None = None):
        self.path = Path(path)
        self.dtype = dtype
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a folder, not a weight file")
        if not self.path.is_file():
            raise FileNotFoundError(f"no weight file at {self.path}")
        if self.path.suffix == ".safetensors":
            self._open_safetensors()
        elif self.path.suffix in _TORCH_SUFFIXES:
            self._open_torch()
        else:
            raise CheckpointError(
                f"{self.path}: unknown weight file type {self.path.suffix!r}; expected .safetensors or "
                f"one of {_TORCH_SUFFIXES}"
            )

    def _open_safetensors(self) -> None:
        from safetensors import SafetensorError, safe_open

        try:
            self._handle = safe_open(str(self.path), framework="pt", device="cpu")
            self._keys = list(self._handle.keys())
            self._shapes = {key: tuple(self._handle.get_slice(key).get_shape()) for key in self._keys}
        except (SafetensorError, OSError) as error:
            raise CheckpointError(
                f"{self.path}: not a readable safetensors file (truncated or corrupt?): {error}"
            ) from error
        self.metadata = dict(self._handle.metadata() or {})
        self._tensors = None

    def _open_torch(self) -> None:
        kind = _sniff(self.path)
        if kind == "safetensors":  # a safetensors file under a PyTorch name: read it as what it is
            return self._open_safetensors()
        if kind is None:
            problem = "is empty (0 bytes)" if self.path.stat().st_size == 0 else "is not a PyTorch checkpoint"
            raise CheckpointError(
                f"{self.path} {problem}: neither a zip archive nor a legacy file written by torch.save, nor a "
                "safetensors file (an incomplete download, or another kind of file?)"
            )
        try:
            loaded = torch.load(self.path, map_location="cpu", weights_only=True, mmap=kind == "zip")
        except pickle.UnpicklingError as error:
            found = re.search(r"GLOBAL (\S+)", str(error))
            raise CheckpointError(
                f"{self.path}: refused to load: it holds Python objects other than weights"
                f"{f' ({found.group(1)})' if found else ''}, and rebuilding them could run code; use a file "
                "of plain weights (.safetensors, or a .ckpt holding only tensors)"
            ) from error
        except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as error:
            raise CheckpointError(
                f"{self.path}: not a readable PyTorch checkpoint (truncated or corrupt?): {error}"
            ) from error
        state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
        if not isinstance(state, dict):
            raise CheckpointError(
                f"{self.path}: expected a state dict (or a dict with 'state_dict'), got a {type(loaded).__name__}"
            )
        self._tensors = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
        self._keys = list(self._tensors)
        self._shapes = {key: tuple(value.shape) for key, value in self._tensors.items()}
        self.metadata = {}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """``{key: shape}`` of every tensor, read without loading any data."""
        return dict(self._shapes)

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in self._shapes:
            raise KeyError(key)
        if self._tensors is not None:
            tensor = self._tensors[key]
        else:
            try:
                tensor = self._handle.get_tensor(key)
            except Exception as error:  # safetensors raises its own error types for short reads
                raise CheckpointError(f"{self.path}: cannot read tensor {key!r}: {error}") from error
        if self.dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(self.dtype)
        return tensor

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key) -> bool:
        return key in self._shapes


def save_tensors(tensors: Mapping[str, torch.Tensor], path, metadata: Mapping[str, str]) -> Path:
    """Write ``tensors`` to the ``.safetensors`` file ``path`` with ``metadata`` (string to string) in its
    header; tensors are detached, moved to the CPU and made contiguous, parent folders are created. The
    file appears complete or not at all (written as ``<name>.partial``, then renamed), with the permissions
    of an ordinary new file: ``safetensors.torch.save_file`` (0.8) writes through a private temporary file
    and leaves ``rw-------``, which other users and services on the machine cannot read.

    Raises:
        ValueError: ``path`` does not end in ``.safetensors``.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"path must end in .safetensors, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch()  # created as open() creates files: 0o666 less the umask
    mode = stat.S_IMODE(partial.stat().st_mode)
    save_file({key: value.detach().cpu().contiguous() for key, value in tensors.items()}, str(partial), dict(metadata))
    os.chmod(partial, mode)
    os.replace(partial, path)
    return path
