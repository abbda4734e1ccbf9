"""PSNR and SSIM against scikit-image itself (the official evaluation's implementation)."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from zeronvs_core.metrics import psnr, ssim


def _pairs():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 3, 48, 37, generator=g, dtype=torch.float64)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    smooth = torch.nn.functional.avg_pool2d(clean, 5, stride=1, padding=2)
    return [(clean, noisy), (clean, smooth), (noisy, 1 - noisy)]


@pytest.mark.parametrize("index", range(3))
def test_ssim_and_psnr_match_scikit_image(index):
    prediction, target = _pairs()[index]
    ours_ssim, ours_psnr = ssim(prediction, target), psnr(prediction, target)
    for b in range(prediction.shape[0]):
        x, y = prediction[b].permute(1, 2, 0).numpy(), target[b].permute(1, 2, 0).numpy()
        assert ours_ssim[b].item() == pytest.approx(
            structural_similarity(x, y, data_range=1.0, channel_axis=2), abs=1e-6
        )
        assert ours_psnr[b].item() == pytest.approx(peak_signal_noise_ratio(y, x, data_range=1.0), abs=1e-6)


def test_identical_images_and_single_channel():
    image = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    assert ssim(image, image).item() == pytest.approx(1.0)
    assert psnr(image, image).item() == float("inf")
    expected = structural_similarity(image[0, 0].numpy(), (image[0, 0] * 0.5).numpy(), data_range=1.0)
    assert ssim(image, image * 0.5).item() == pytest.approx(expected, abs=1e-6)


def test_bad_shapes():
    with pytest.raises(ValueError, match="one shape"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(torch.zeros(1, 3, 6, 8), torch.zeros(1, 3, 6, 8))
    with pytest.raises(ValueError, match=r"\[B,C,H,W\]"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))
    assert np.isfinite(psnr(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)).item())
