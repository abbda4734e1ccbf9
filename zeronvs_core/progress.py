"""Progress and interruption of long library loops: one callback shape, and its terminal adapter.

Every long loop (``sampling.sample_latents`` / ``sample_views``, ``distill.distill``, ``render.render_path``,
``mesh.export_mesh``, the jobs and ``evaluation.evaluate`` through them) takes ``callback(step, total,
preview=None)``, called after each of ``total`` steps with ``step`` counted from 1 (a resumed distillation's
first call is at its checkpoint's step + 1). Raising from it stops the loop: the exception propagates to the
caller (``distill`` writes a resumable checkpoint first). ``TqdmCallback`` shows one on a terminal; the
ComfyUI nodes wrap ``nodes/progress.py``'s bar and interrupt check in the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

__all__ = ["PhaseProgress", "ProgressCallback", "TqdmCallback", "phase_callback"]


class ProgressCallback(Protocol):
    def __call__(self, step: int, total: int, preview: torch.Tensor | None = None) -> None:
        """After step ``step`` of ``total`` (from 1). ``preview``: what the loop can show of this step, an
        image ``[3,H,W]`` in [0,1] (distillation: the input view; rendering: the frame), DDIM's current
        latents ``[N,4,h,w]`` (sampling), or ``None``. May raise to stop the loop."""


PhaseProgress = Callable[[str], ProgressCallback]
"""``progress(description)``: the callback of one phase of a job (``"rendering (frames)"``...); the jobs and
``evaluation.evaluate`` take one so that each phase can show its own bar (``TqdmCallback`` is one)."""


def phase_callback(progress: PhaseProgress | None, description: str) -> ProgressCallback | None:
    """``progress(description)``, or ``None`` (no callback) when ``progress`` is ``None``."""
    return None if progress is None else progress(description)


class TqdmCallback:
    """A ``ProgressCallback`` drawing a ``tqdm`` bar. The bar opens at the first call with ``initial = step - 1``,
    so a resumed run's bar starts at its checkpoint's step and its rate counts only this run's steps, follows
    ``step`` and ``total`` from then on, and closes at the last step (``step == total``) or on ``close()``.

    Args:
        description: the bar's label.
        unit: what a step is (``"step"``, ``"frame"``...).
        **options: more ``tqdm`` arguments (``leave``, ``disable``, ``dynamic_ncols``...).
    """

    def __init__(self, description: str, unit: str = "step", **options):
        self.description, self.unit, self.options = description, unit, options
        self.bar = None

    def __call__(self, step: int, total: int, preview=None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=step - 1, desc=self.description, unit=self.unit, **self.options)
        self.bar.total = total
        self.bar.update(step - self.bar.n)
        if step >= total:
            self.close()

    def close(self) -> None:
        """Close the bar (when one is open); later calls open a new one."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> TqdmCallback:
        return self

    def __exit__(self, *exception) -> None:
        self.close()
