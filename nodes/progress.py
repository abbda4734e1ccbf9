"""The one adapter from the library's loop callbacks to ComfyUI: a progress bar and the interrupt flag."""

from __future__ import annotations

__all__ = ["PREVIEW_SIZE", "progress"]

PREVIEW_SIZE = 512
"""Largest side of the live preview images sent to the browser, pixels."""


def progress(total: int, previews: bool = False):
    """``callback(step, total, extra)`` for ``zeronvs_core`` loops: raises ComfyUI's
    ``InterruptProcessingException`` once the user has pressed Cancel, then moves a ``ProgressBar``
    (of the running node) to ``step``. With ``previews``, ``extra`` is an image ``[3,H,W]`` in [0,1]
    that the browser shows while the node runs; otherwise it is ignored (e.g. DDIM latents)."""
    import comfy.model_management
    import comfy.utils

    bar = comfy.utils.ProgressBar(total)

    def callback(step: int, total: int, extra=None) -> None:
        comfy.model_management.throw_exception_if_processing_interrupted()
        bar.update_absolute(step, total, _preview(extra) if previews and extra is not None else None)

    return callback


def _preview(image) -> tuple:
    """``("JPEG", PIL image, max side)``, the preview form of ``ProgressBar.update_absolute``."""
    from PIL import Image

    pixels = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return ("JPEG", Image.fromarray(pixels), PREVIEW_SIZE)
