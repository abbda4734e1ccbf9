"""Input photo preparation: centre crop, INTER_AREA resize, RGBA on white, grayscale, bad input."""

import cv2
import numpy as np
import pytest
import torch

from zeronvs_core.images import prepare_image


def test_square_image_at_the_model_size_is_unchanged():
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(prepare_image(image, 16), image)


def test_wide_image_is_centre_cropped_not_stretched():
    image = torch.zeros(1, 3, 8, 16)
    image[..., 4:12] = 1.0  # the centre square is white, the sides black
    out = prepare_image(image, 8)
    assert out.shape == (1, 3, 8, 8)
    assert torch.equal(out, torch.ones(1, 3, 8, 8))


def test_tall_image_crop_takes_the_middle_rows():
    image = torch.arange(12.0).view(1, 1, 12, 1).expand(1, 3, 12, 8) / 12
    out = prepare_image(image, 8)
    assert torch.allclose(out[0, 0, :, 0], torch.arange(2.0, 10.0) / 12)


def test_resize_is_opencv_inter_area():
    image = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    expected = cv2.resize(image[0].permute(1, 2, 0).numpy(), (16, 16), interpolation=cv2.INTER_AREA)
    out = prepare_image(image, 16)
    assert np.allclose(out[0].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    # INTER_AREA averages whole 2.5x2.5 footprints: a constant image stays constant.
    assert torch.allclose(prepare_image(torch.full((1, 3, 40, 40), 0.3), 16), torch.full((1, 3, 16, 16), 0.3))


def test_rgba_is_composited_on_white_after_the_resize():
    image = torch.zeros(1, 4, 8, 8)
    image[:, 0] = 1.0  # red
    image[:, 3, :, :4] = 1.0  # opaque left half, transparent right half
    out = prepare_image(image, 8)
    assert torch.equal(out[0, :, :, :4], torch.tensor([1.0, 0, 0]).view(3, 1, 1).expand(3, 8, 4))
    assert torch.equal(out[0, :, :, 4:], torch.ones(3, 8, 4))
    half = image.clone()
    half[:, 3] = 0.25
    assert torch.allclose(prepare_image(half, 8)[0, :, 0, 0], torch.tensor([1.0, 0.75, 0.75]))


def test_grayscale_is_expanded_to_rgb():
    image = torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    out = prepare_image(image, 6)
    assert out.shape == (1, 3, 6, 6)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (torch.rand(3, 16, 16), r"\[1,C,H,W\] tensor with C = 1, 3 or 4 channels, got \[3, 16, 16\]"),
        (torch.rand(2, 3, 16, 16), r"got \[2, 3, 16, 16\]"),
        (torch.rand(1, 2, 16, 16), r"got \[1, 2, 16, 16\]"),
        (np.zeros((1, 3, 16, 16)), "got ndarray"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), "divide 8-bit pixels by 255"),
        (torch.full((1, 3, 16, 16), 255.0), r"values must be in \[0,1\], got \[255, 255\] \(8-bit pixels"),
        (torch.full((1, 3, 16, 16), -0.5), r"values must be in \[0,1\], got \[-0.5, -0.5\]"),
        (torch.full((1, 3, 16, 16), float("nan")), "NaN or infinite"),
        (torch.rand(1, 3, 4, 16), "at least 8x8 pixels, got 4x16"),
    ],
)
def test_bad_images_are_clear_errors(image, message):
    with pytest.raises(ValueError, match=message):
        prepare_image(image, 16)


def test_image_grid_tiles_row_by_row_and_pads_with_black():
    from zeronvs_core.images import image_grid

    images = torch.arange(3, dtype=torch.float32).view(3, 1, 1, 1).expand(3, 3, 2, 2) + 1
    grid = image_grid(images, columns=2)
    assert grid.shape == (1, 3, 4, 4)
    assert grid[0, 0, 0, 0] == 1 and grid[0, 0, 0, 2] == 2 and grid[0, 0, 2, 0] == 3 and grid[0, 0, 2, 2] == 0
