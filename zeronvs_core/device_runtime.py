"""What keeps a distillation step free of host round trips on CUDA, and its memory budget.

- ``device_generator``: the random source of per-ray jitter and SDS noise, on the run's device, so those
  draws are not made on the CPU and copied over (one 256^2 jitter tensor: 49 ms on the CPU generator, 0.03 ms
  on a CUDA one, measured on an H200; ``shared/reference/gpu_distillation.md``).
- ``to_device``: host-to-device copies from pinned memory, non-blocking (a pageable copy waits for the stream).
- ``PhaseClock``: per-phase wall time; on CUDA from CUDA events read back in batches, and only when asked.
- ``prefer_expandable_segments``: ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`` unless the user set it.
- ``memory_budget_bytes``: ``DistillConfig.memory_budget_gib`` resolved for a device.

The CUDA branches (CUDA generator, pinned copies, events, ``mem_get_info``) have not run on a GPU yet: this
module was written and tested on a CPU-only machine (the CPU branches are what the tests exercise).
"""

from __future__ import annotations

import os
import time

import torch

__all__ = ["PhaseClock", "device_generator", "memory_budget_bytes", "prefer_expandable_segments", "to_device"]

ALLOC_CONF = "PYTORCH_CUDA_ALLOC_CONF"
AUTO_BUDGET_FRACTION = 0.8
"""Share of the free CUDA memory (``mem_get_info`` plus what torch reserved but does not use) that ``"auto"``
gives the step's autograd graph; the rest is left for the VAE encoder, the UNet and backward scratch."""


def device_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    """The generator for draws made on ``device``: ``generator`` itself on the CPU (so CPU runs draw exactly
    what they always did); on another device a new ``torch.Generator(device)`` seeded by one 62-bit draw from
    ``generator`` (so the run's seed still determines everything)."""
    if device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device).manual_seed(seed)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; a CPU tensor going to CUDA is copied from pinned memory without blocking the
    host (the pinned buffer is kept by torch's caching host allocator until the copy has run)."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def prefer_expandable_segments(device: torch.device | str) -> bool:
    """Set ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`` when ``device`` is CUDA, the variable is unset and
    CUDA is not initialised yet (the allocator reads it once, at its first allocation); return whether it was
    set. It keeps reserved memory close to allocated memory when tensor sizes vary from step to step (the
    measured ``official`` run reserved 86 GiB for 53 GiB allocated). Called by ``load_zeronvs`` before the model
    moves to the device; inside ComfyUI, which initialises CUDA first, set the variable before starting it."""
    if torch.device(device).type != "cuda" or ALLOC_CONF in os.environ or torch.cuda.is_initialized():
        return False
    os.environ[ALLOC_CONF] = "expandable_segments:True"
    return True


def memory_budget_bytes(budget_gib: float | str | None, device: torch.device) -> int | None:
    """Bytes the autograd graph of one step may hold (``None``: no limit, single pass).

    ``"auto"`` on CUDA: ``AUTO_BUDGET_FRACTION`` of the free memory (``torch.cuda.mem_get_info`` plus memory
    torch reserved but does not use); on any other device ``"auto"`` means no limit (a single pass: the CPU's
    memory is not known without another dependency, and its presets are small), so a CPU run that must stay
    small passes a number."""
    if budget_gib is None:
        return None
    if budget_gib == "auto":
        if device.type != "cuda":
            return None
        free, _ = torch.cuda.mem_get_info(device)
        unused = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(AUTO_BUDGET_FRACTION * (free + unused))
    return int(float(budget_gib) * 2**30)


class PhaseClock:
    """Seconds per phase, added to ``totals`` (``lap(name)`` closes the phase that began at the previous lap).

    ``enabled=False`` does nothing. On the CPU it reads ``time.perf_counter``. On CUDA it records CUDA events and
    reads them back only in ``flush`` (which waits for the last one), so timing never synchronises mid-step.
    """

    def __init__(self, totals: dict[str, float], device: torch.device, enabled: bool):
        self.totals, self.enabled = totals, enabled
        self.cuda = enabled and device.type == "cuda"
        self._pending: list[tuple[str, torch.cuda.Event, torch.cuda.Event]] = []
        self._last = None

    def start(self) -> None:
        """Mark the beginning of a step."""
        if self.enabled:
            self._last = self._mark()

    def lap(self, name: str) -> None:
        if not self.enabled:
            return
        now = self._mark()
        if self.cuda:
            self._pending.append((name, self._last, now))
        else:
            self.totals[name] += now - self._last
        self._last = now

    def flush(self) -> None:
        """Add the recorded CUDA intervals to ``totals`` (one wait for the last event)."""
        if self._pending:
            self._pending[-1][2].synchronize()
            for name, begin, end in self._pending:
                self.totals[name] += begin.elapsed_time(end) / 1000.0
            self._pending.clear()

    def _mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()
