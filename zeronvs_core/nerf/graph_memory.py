"""Bytes that autograd keeps for the backward pass of a computation, counted exactly on any device.

Every tensor that an autograd node saves for its backward goes through the pack hook of
``torch.autograd.graph.saved_tensors_hooks``; ``count_saved_bytes`` adds up the sizes of the distinct storages
behind them (a storage saved by several nodes, or as several views, counts once). Storages of tensors passed in
``exclude`` (a module's parameters and buffers: they are held whether or not a graph exists) are left out. The
figure is what the graph holds beyond the model, independent of the allocator, so it is the same on CPU and
CUDA; it does not count the outputs themselves or temporaries freed during the computation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import torch

__all__ = ["count_saved_bytes"]

Result = TypeVar("Result")


def count_saved_bytes(run: Callable[[], Result], exclude: Iterable[torch.Tensor] = ()) -> tuple[int, Result]:
    """Run ``run()`` and count the bytes of the distinct storages autograd saves for backward meanwhile.

    Args:
        run: the computation, called once with no arguments (its graph is built while it runs).
        exclude: tensors whose storages are not counted (e.g. ``module.parameters()`` and ``module.buffers()``).

    Returns:
        ``(bytes, run())``: the total ``nbytes`` of the distinct saved storages, and what ``run`` returned (the
        graph stays alive as long as the caller keeps it).
    """
    excluded = {tensor.untyped_storage().data_ptr() for tensor in exclude}
    storages: dict[int, torch.UntypedStorage] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            storages[storage.data_ptr()] = storage  # kept referenced so that no address is reused while counting
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = run()
    return sum(storage.nbytes() for storage in storages.values()), result
