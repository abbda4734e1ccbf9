"""Image quality metrics with scikit-image's semantics (what the official evaluation used).

Images are ``[B,3,H,W]`` (or ``[B,C,H,W]``) floats with data range 1 (values in [0,1]); every function
returns one value per image, ``[B]``.

- ``psnr``: ``10 log10(1 / mse)``, as ``skimage.metrics.peak_signal_noise_ratio(data_range=1)``.
- ``ssim``: ``skimage.metrics.structural_similarity(data_range=1, channel_axis=...)`` with its defaults:
  a 7x7 uniform window, K1 = 0.01, K2 = 0.03, sample covariances (x 49/48), the mean over the windows
  that fit inside the image (skimage crops the 3-pixel border its filter pads) and then over channels.
- ``LPIPS`` / ``load_lpips`` (from ``lpips.py``): LPIPS-VGG, built from local weight files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .lpips import LPIPS, load_lpips

__all__ = ["LPIPS", "load_lpips", "psnr", "ssim"]

_WINDOW = 7
_K1, _K2 = 0.01, 0.03


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``[B]`` (inf for identical images)."""
    _check_pair(prediction, target, min_size=1)
    mse = (prediction.double() - target.double()).square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(1.0 / mse)


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean structural similarity, ``[B]``, in [-1, 1]."""
    _check_pair(prediction, target, min_size=_WINDOW)
    x, y = prediction.double(), target.double()
    channels = x.shape[1]

    def mean(image):
        return F.avg_pool2d(image.reshape(-1, 1, *image.shape[-2:]), _WINDOW, stride=1).reshape(
            x.shape[0], channels, *(s - _WINDOW + 1 for s in image.shape[-2:])
        )

    cov_norm = _WINDOW**2 / (_WINDOW**2 - 1)
    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = _K1**2, _K2**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(2).mean(dim=2).mean(dim=1)


def _check_pair(prediction: torch.Tensor, target: torch.Tensor, min_size: int) -> None:
    if prediction.ndim != 4 or prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target must be [B,C,H,W] of one shape, got {list(prediction.shape)} and "
            f"{list(target.shape)}"
        )
    if min(prediction.shape[-2:]) < min_size:
        raise ValueError(f"images must be at least {min_size}x{min_size}, got {list(prediction.shape[-2:])}")
