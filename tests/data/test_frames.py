"""Frame helpers shared by the dataset readers: one way of reading photos for every reader (upright, on
white), depth and dense maps to the square, the pinhole FOV that never leaves (0, 180), pair picking."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import zeronvs_core
from zeronvs_core.data.dtu import read_dtu_image
from zeronvs_core.data.frames import pair_indices, pinhole_fov_deg, read_square_image, square_depth, square_map

RED, WHITE = torch.tensor([1.0, 0.0, 0.0]), torch.ones(3)


def _sideways_cut_out(path: Path) -> Path:
    """A 40x20 RGBA PNG stored sideways (EXIF orientation 6): its left half opaque red, its right half
    transparent. Shown upright it is 20 wide and 40 high, red above and transparent below."""
    stored = np.zeros((20, 40, 4), np.uint8)
    stored[:, :20] = (255, 0, 0, 255)
    stored[:, 20:] = (0, 255, 0, 0)  # green, but fully transparent: white on the model's side
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, exif=exif.tobytes())
    return path


def test_read_square_image_is_upright_and_on_white(tmp_path):
    image, size = read_square_image(_sideways_cut_out(tmp_path / "cut.png"), 20)
    assert size == (40, 20)  # the upright photo's (H, W)
    # the centre square of the upright photo is its rows 10..29: red rows 10..19, white rows 20..29
    assert torch.equal(image[:, :10], RED.view(3, 1, 1).expand(3, 10, 20))
    assert torch.equal(image[:, 10:], WHITE.view(3, 1, 1).expand(3, 10, 20))


def test_dtu_reads_photos_the_same_way(tmp_path):
    path = _sideways_cut_out(tmp_path / "cut.png")
    image = read_dtu_image(path, (40, 20))  # the file's own size: no resampling
    assert torch.equal(image[:, :20], RED.view(3, 1, 1).expand(3, 20, 20))
    assert torch.equal(image[:, 20:], WHITE.view(3, 1, 1).expand(3, 20, 20))
    # at twice the size, Pillow's LANCZOS on float pixels; the official one on 8 bits agrees to rounding
    big = read_dtu_image(path, (80, 40))
    upright = Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    official = np.asarray(upright.resize((40, 80), resample=Image.LANCZOS), dtype=np.float32) / 255
    torch.testing.assert_close(big, torch.from_numpy(official).permute(2, 0, 1), atol=1 / 255, rtol=0)
    assert 0.0 <= big.min() and big.max() <= 1.0  # LANCZOS overshoots at the edge; clipped


def test_no_reader_opens_image_files_another_way():
    """``images.py`` is the one place that decodes image files (Pillow); OpenCV serves only its resize and
    DTU's projection-matrix decomposition."""
    library = Path(zeronvs_core.__file__).parent
    for path in sorted(library.rglob("*.py")):
        text = path.read_text()
        if path.name != "images.py":
            assert "Image.open(" not in text and "imread(" not in text, path
        if path.name not in ("images.py", "dtu.py"):
            assert "import cv2" not in text, path


def test_square_depth_keeps_sparse_points():
    depth = np.zeros((40, 64), dtype=np.float32)
    depth[0, 12], depth[17, 30], depth[39, 51] = 1.5, 2.5, 3.5
    small = square_depth(depth, 10)
    assert small.shape == (10, 10)
    assert sorted(small[small > 0].tolist()) == [1.5, 2.5, 3.5]
    assert small[0, 0] == 1.5 and small[4, 4] == 2.5 and small[9, 9] == 3.5


def test_square_depth_upsizes_by_nearest_neighbour():
    depth = np.array([[1.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    # output pixel i takes input pixel floor(i * 2 / 5): 0, 0, 0, 1, 1
    expected = np.array([[1, 1, 1, 0, 0]] * 3 + [[3, 3, 3, 4, 4]] * 2, dtype=np.float32)
    assert np.array_equal(square_depth(depth, 5), expected)
    rng = np.random.default_rng(0)
    for side, size in ((3, 7), (5, 12), (7, 16), (6, 9)):  # as OpenCV's INTER_NEAREST, used before
        square = rng.random((side, side)).astype(np.float32)
        nearest = cv2.resize(square, (size, size), interpolation=cv2.INTER_NEAREST)
        assert np.array_equal(square_depth(square, size), nearest), (side, size)


def test_square_map_is_the_centre_square_inter_area():
    values = np.arange(8 * 12, dtype=np.float32).reshape(8, 12)
    expected = cv2.resize(values[:, 2:10], (4, 4), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(square_map(values, 4), expected, atol=1e-5)


def test_pair_indices_are_distinct_and_repeatable():
    pairs = [pair_indices(5, 3, 1, index) for index in range(20)]
    assert all(cond != target and 0 <= cond < 5 and 0 <= target < 5 for cond, target in pairs)
    assert pairs == [pair_indices(5, 3, 1, index) for index in range(20)]
    assert len(set(pairs)) > 5


def test_pinhole_fov():
    assert pinhole_fov_deg(2.0, 1.0, "square") == pytest.approx(90.0, abs=1e-12)
    assert pinhole_fov_deg(400.0, 100.0 * 3**0.5 * 2, "x") == pytest.approx(60.0, abs=1e-12)
    assert pinhole_fov_deg(1e-9, 1e6, "narrow") > 0


@pytest.mark.parametrize(
    ("extent", "focal"),
    [(2.0, 0.0), (2.0, -1.0), (-3.0, 10.0), (0.0, 10.0), (float("nan"), 1.0), (1.0, float("inf")), (1e300, 1e-300)],
)
def test_pinhole_fov_outside_0_180_is_an_error(extent, focal):
    with pytest.raises(ValueError, match=r"frame 7: a pinhole camera needs .* FOV in \(0, 180\)"):
        pinhole_fov_deg(extent, focal, "frame 7")
