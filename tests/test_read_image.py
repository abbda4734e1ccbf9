"""Reading photos (``images.read_image``): EXIF orientation against the TIFF/EXIF definition of each of its
8 values, every Pillow mode a camera or editor writes with its right values, transparency on white,
clear one-line errors for what cannot be read, and the same through ``zeronvs views``."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zeronvs_core import sampling
from zeronvs_core.cli import main
from zeronvs_core.images import ImageReadError, composite_on_white, prepare_image, read_image
from zeronvs_core.model import save_zeronvs

RED, BLUE, WHITE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0)
PALETTE = [255, 0, 0, 0, 0, 255] + [0] * 762  # entry 0 red, entry 1 blue

# TIFF 6.0 / EXIF 2.3, tag 274: where the stored image's row 0 and column 0 are shown, for values 1..8.
# Stored pixel (r, c) of an H x W image is shown at (y, x):
SHOWN_AT = {
    1: lambda r, c, h, w: (r, c),  # row 0 top, column 0 left
    2: lambda r, c, h, w: (r, w - 1 - c),  # row 0 top, column 0 right
    3: lambda r, c, h, w: (h - 1 - r, w - 1 - c),  # row 0 bottom, column 0 right
    4: lambda r, c, h, w: (h - 1 - r, c),  # row 0 bottom, column 0 left
    5: lambda r, c, h, w: (c, r),  # row 0 left, column 0 top
    6: lambda r, c, h, w: (c, h - 1 - r),  # row 0 right, column 0 top
    7: lambda r, c, h, w: (w - 1 - c, h - 1 - r),  # row 0 right, column 0 bottom
    8: lambda r, c, h, w: (w - 1 - c, r),  # row 0 left, column 0 bottom
}


def _shown(stored: np.ndarray, orientation: int) -> np.ndarray:
    """``[H,W,...]`` stored pixels laid out as a viewer shows them for an EXIF orientation."""
    h, w = stored.shape[:2]
    out = np.zeros((w, h, *stored.shape[2:]) if orientation > 4 else stored.shape, stored.dtype)
    for r in range(h):
        for c in range(w):
            out[SHOWN_AT[orientation](r, c, h, w)] = stored[r, c]
    return out


def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _pixel(path, y=0, x=0) -> tuple:
    """The RGB that reaches the model at pixel (y, x): read, transparency composited on white."""
    return tuple(composite_on_white(read_image(path)[0])[:, y, x].tolist())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_reads_as_a_viewer_shows_it(tmp_path, orientation):
    stored = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = _save(Image.fromarray(stored), tmp_path / "o.png", exif=_exif(orientation))
    expected = torch.from_numpy(_shown(stored, orientation) / 255.0).float().permute(2, 0, 1)[None]
    assert torch.equal(read_image(path), expected)
    tiff = _save(Image.fromarray(stored), tmp_path / "o.tif", exif=_exif(orientation))
    assert torch.equal(read_image(tiff), expected)  # Pillow turns TIFFs itself: not twice


def _quadrants(height: int, width: int) -> np.ndarray:
    """Top-left red, top-right green, bottom-left blue, bottom-right white, in flat 8x8 JPEG blocks."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (255, 0, 0)
    image[: height // 2, width // 2 :] = (0, 255, 0)
    image[height // 2 :, : width // 2] = (0, 0, 255)
    image[height // 2 :, width // 2 :] = 255
    return image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_phone_jpeg_orientations(tmp_path, orientation):
    stored = _quadrants(32, 48)
    path = _save(Image.fromarray(stored), tmp_path / "p.jpg", exif=_exif(orientation), quality=95)
    image = read_image(path)
    shown = _shown(stored, orientation)
    assert image.shape == (1, 3, *shown.shape[:2])
    for y, x in ((4, 4), (4, -5), (-5, 4), (-5, -5)):  # the middle of each quadrant's corner block
        expected = torch.from_numpy(shown[y, x] / 255.0).float()
        torch.testing.assert_close(image[0, :, y, x], expected, atol=4 / 255, rtol=0)


def test_case_1_a_40x20_jpeg_with_orientation_6_is_40_high_and_20_wide(tmp_path):
    path = _save(Image.new("RGB", (40, 20), (200, 30, 30)), tmp_path / "phone.jpg", exif=_exif(6))
    assert read_image(path).shape == (1, 3, 40, 20)
    assert prepare_image(read_image(path), 16).shape == (1, 3, 16, 16)


SIDE = 16  # every kind is a 16x16 photo (the command needs at least 8x8); pixel (0, 0) carries its colour


def _palette(transparency=None) -> Image.Image:
    image = Image.new("P", (SIDE, SIDE), 0)
    image.putpalette(PALETTE)
    image.putpixel((SIDE - 1, SIDE - 1), 1)  # one blue pixel in the bottom-right corner
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


def _flat(mode: str, value) -> Image.Image:
    return Image.new(mode, (SIDE, SIDE), value)


def _first_row(values, dtype) -> Image.Image:
    """A 16x16 image of ``values[0]`` whose first row starts with ``values``."""
    array = np.full((SIDE, SIDE), values[0], dtype)
    array[0, : len(values)] = values
    return Image.fromarray(array)


def _grey16(values, mode="I;16") -> Image.Image:
    image = _flat(mode, values[0])
    for x, value in enumerate(values):
        image.putpixel((x, 0), value)
    return image


def _adobe_stripped(jpeg: bytes) -> bytes:
    """The JPEG without its Adobe APP14 segment (marker FFEE)."""
    start = jpeg.index(b"\xff\xee")
    length = int.from_bytes(jpeg[start + 2 : start + 4], "big")
    return jpeg[:start] + jpeg[start + 2 + length :]


def _associated_alpha(image: Image.Image) -> bytes:
    """The image as a little-endian TIFF whose ExtraSamples tag (338) says 'associated (premultiplied) alpha'
    (1) instead of Pillow's 'unassociated alpha' (2): the stored values are then read as premultiplied."""
    buffer = io.BytesIO()
    image.save(buffer, "TIFF")
    entry = b"\x52\x01\x03\x00\x01\x00\x00\x00\x02\x00"
    assert buffer.getvalue().count(entry) == 1
    return buffer.getvalue().replace(entry, entry[:-2] + b"\x01\x00")


def _cmyk_jpeg(cmyk) -> bytes:
    buffer = io.BytesIO()
    _flat("CMYK", cmyk).save(buffer, "JPEG", quality=95)  # Pillow writes Adobe's APP14 marker, samples inverted
    return buffer.getvalue()


CMYK = (51, 102, 0, 51)  # C 20 %, M 40 %, Y 0, K 20 %
CMYK_RGB = (204 * 204 / 255**2, 204 * 153 / 255**2, 204 * 255 / 255**2)  # (1 - C)(1 - K), (1 - M)(1 - K), ...


def write_kinds(folder: Path) -> dict[str, tuple[Path, tuple, float]]:
    """Files of every kind of case 3: ``name -> (path, RGB reaching the model at pixel (0, 0), tolerance)``."""
    f = folder
    kinds = {}

    def add(name, path, rgb, tolerance=1e-6):
        kinds[name] = (path, tuple(float(v) for v in rgb), tolerance)

    def write(name, data: bytes) -> Path:
        (f / name).write_bytes(data)
        return f / name

    add("palette", _save(_palette(), f / "palette.png"), RED)
    add("palette_trns", _save(_palette(bytes([0, 255])), f / "palette_trns.png"), WHITE)  # case 2
    add("palette_half_trns", _save(_palette(bytes([128, 255])), f / "half.png"), (1, 127 / 255, 127 / 255))
    add("gif_trns", _save(_palette(0), f / "cut.gif"), WHITE)
    add("grey", _save(_flat("L", 100), f / "grey.png"), (100 / 255,) * 3)
    add("grey_key", _save(_flat("L", 7), f / "grey_key.png", transparency=7), WHITE)
    add("grey_alpha", _save(_flat("LA", (200, 0)), f / "la.png"), WHITE)
    add("grey_alpha_half", _save(_flat("LA", (200, 51)), f / "la51.png"), (1 - 0.2 * 55 / 255,) * 3)
    # stored 100 with alpha 128, premultiplied: straight round(100 * 255 / 128) = 199
    add(
        "grey_premultiplied",
        write("la.tif", _associated_alpha(_flat("LA", (100, 128)))),
        (199 / 255 * 128 / 255 + 127 / 255,) * 3,
    )
    add("bilevel", _save(_flat("1", 1), f / "bilevel.png"), WHITE)
    add("bilevel_black", _save(_flat("1", 0), f / "black.tif"), (0, 0, 0))
    add("grey16", _save(_grey16([32769, 1]), f / "grey16.png"), (32769 / 65535,) * 3)
    add("grey16_key", _save(_grey16([5, 40000]), f / "grey16_key.png", transparency=5), WHITE)
    add("grey16_big_endian", _save(_grey16([1000, 2], "I;16B"), f / "grey16b.tif"), (1000 / 65535,) * 3)
    pgm = b"P5\n16 16\n65535\n" + np.full(SIDE * SIDE, 40000, ">u2").tobytes()
    add("grey16_pgm", write("grey16.pgm", pgm), (40000 / 65535,) * 3)
    add("int32_in_range", _save(_first_row([65535, 0], np.int32), f / "i32.tif"), WHITE)
    add("float", _save(_first_row([0.25, 1.5, -0.5, 0.75], np.float32), f / "float.tif"), (0.25,) * 3)
    add("rgb", _save(_flat("RGB", (10, 20, 30)), f / "rgb.png"), (10 / 255, 20 / 255, 30 / 255))
    add("rgb_key", _save(_flat("RGB", (1, 2, 3)), f / "rgb_key.png", transparency=(1, 2, 3)), WHITE)
    add("rgba", _save(_flat("RGBA", (255, 0, 0, 0)), f / "rgba.png"), WHITE)
    add("rgba_webp", _save(_flat("RGBA", (0, 0, 255, 255)), f / "rgba.webp", lossless=True), BLUE)
    straight = np.array([199, 99, 0]) / 255  # Pillow un-premultiplies: round(v * 255 / 128)
    add(
        "rgba_premultiplied",
        write("rgba.tif", _associated_alpha(_flat("RGBA", (100, 50, 0, 128)))),
        straight * 128 / 255 + 127 / 255,
    )
    add("cmyk_tiff", _save(_flat("CMYK", CMYK), f / "cmyk.tif"), CMYK_RGB, 1 / 255)
    add("cmyk_adobe_jpeg", write("cmyk_adobe.jpg", _cmyk_jpeg(CMYK)), CMYK_RGB, 3 / 255)
    add("cmyk_jpeg_without_marker", write("cmyk_bare.jpg", _adobe_stripped(_cmyk_jpeg(CMYK))), CMYK_RGB, 3 / 255)
    add("cmyk_cyan_jpeg", write("cyan.jpg", _cmyk_jpeg((255, 0, 0, 0))), (0, 1, 1), 3 / 255)
    add("ycbcr_tiff", _save(_flat("RGB", (255, 0, 0)).convert("YCbCr"), f / "ycbcr.tif"), RED, 2 / 255)
    return kinds


BAD_KINDS = {
    "folder": "is a folder, not an image file",
    "empty.png": r"is empty \(0 bytes\)",
    "text.png": "is not a readable image",
    "truncated.png": "is truncated or corrupt",
    "truncated.jpg": "is truncated or corrupt",
    "lab.tif": "Pillow mode LAB is not supported",
    "int32.tif": r"values in \[-5, 70000\]; expected 16-bit grey values",
    "nan.tif": "float image with NaN or infinite values",
}


def write_bad_kinds(folder: Path) -> dict[str, Path]:
    """Files that cannot be read as photos, by name (see ``BAD_KINDS``)."""
    (folder / "folder").mkdir()
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is a note, not a picture\n")
    whole = _save(Image.fromarray(_quadrants(64, 64)), folder / "whole.png")
    (folder / "truncated.png").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    jpeg = _save(Image.fromarray(_quadrants(64, 64)), folder / "whole.jpg")
    (folder / "truncated.jpg").write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    _save(Image.new("LAB", (8, 8), (50, 128, 128)), folder / "lab.tif")
    _save(Image.fromarray(np.array([[-5, 70000]], np.int32)), folder / "int32.tif")
    _save(Image.fromarray(np.array([[0.5, np.nan]], np.float32)), folder / "nan.tif")
    return {name: folder / name for name in BAD_KINDS}


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    return write_kinds(tmp_path_factory.mktemp("kinds"))


@pytest.fixture(scope="module")
def bad_kinds(tmp_path_factory):
    return write_bad_kinds(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    "name",
    [
        "palette", "palette_trns", "palette_half_trns", "gif_trns", "grey", "grey_key", "grey_alpha",
        "grey_alpha_half", "grey_premultiplied", "bilevel", "bilevel_black", "grey16", "grey16_key",
        "grey16_big_endian", "grey16_pgm", "int32_in_range", "float", "rgb", "rgb_key", "rgba", "rgba_webp",
        "rgba_premultiplied", "cmyk_tiff", "cmyk_adobe_jpeg", "cmyk_jpeg_without_marker", "cmyk_cyan_jpeg",
        "ycbcr_tiff",
    ],
)  # fmt: skip
def test_every_mode_reads_with_its_right_colour(kinds, name):
    path, rgb, tolerance = kinds[name]
    image = read_image(path)
    assert image.dtype == torch.float32 and image.shape[:2] in ((1, 3), (1, 4))
    assert 0.0 <= image.min() and image.max() <= 1.0
    torch.testing.assert_close(torch.tensor(_pixel(path)), torch.tensor(rgb), atol=tolerance, rtol=0)


def test_case_2_palette_transparency_is_white_where_alpha_is_0(kinds):
    image = read_image(kinds["palette_trns"][0])
    assert image.shape == (1, 4, SIDE, SIDE)  # the tRNS alphas become an alpha channel
    assert image[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0, 0.0]  # red, fully transparent
    assert image[0, :, -1, -1].tolist() == [0.0, 0.0, 1.0, 1.0]  # the blue entry is opaque
    model_input = prepare_image(image, SIDE)
    assert model_input[0, :, 0, 0].tolist() == list(WHITE)
    assert model_input[0, :, -1, -1].tolist() == list(BLUE)


def test_sixteen_bit_grey_keeps_its_precision(kinds):
    grey16 = read_image(kinds["grey16"][0])
    assert grey16[0, 0, 0, :2].tolist() == [np.float32(32769) / 65535, np.float32(1) / 65535]
    assert grey16[0, 0, 0, 1] > 0  # 1 / 65535 would be 0 at 8 bits
    keyed = read_image(kinds["grey16_key"][0])
    assert keyed.shape == (1, 4, SIDE, SIDE) and keyed[0, 3, 0, :2].tolist() == [0.0, 1.0]
    assert keyed[0, 0, 0, 1].item() == pytest.approx(40000 / 65535)


def test_float_tiff_values_are_clipped_to_the_displayable_range(kinds):
    values = read_image(kinds["float"][0])[0, 0, 0, :4].tolist()
    assert values == [0.25, 1.0, 0.0, 0.75]  # 1.5 shows white, -0.5 black


def test_a_photo_without_transparency_reads_as_rgb_with_it_as_rgba(kinds):
    assert read_image(kinds["rgb"][0]).shape[1] == 3 and read_image(kinds["grey16"][0]).shape[1] == 3
    assert read_image(kinds["rgba"][0]).shape[1] == 4 and read_image(kinds["rgb_key"][0]).shape[1] == 4


@pytest.mark.parametrize("name", list(BAD_KINDS))
def test_unreadable_files_are_one_line_errors_naming_the_file(bad_kinds, name):
    path = bad_kinds[name]
    with pytest.raises(ImageReadError, match=BAD_KINDS[name]) as caught:
        read_image(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert isinstance(caught.value, ValueError)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.png does not exist"):
        read_image(tmp_path / "nothing.png")


@pytest.fixture(scope="module")
def tiny_project_model(tiny_model, tmp_path_factory):
    return str(save_zeronvs(tiny_model, tmp_path_factory.mktemp("model") / "tiny.safetensors", dtype=torch.float32))


@pytest.fixture()
def model_input(monkeypatch):
    """Replace the sampler: record the photo that ``zeronvs views`` hands to the model, return grey views."""
    seen = []

    def record(model, image, cond_c2w, target_c2w, *args, **kwargs):
        seen.append(image.detach().cpu())
        return torch.full((target_c2w.shape[0], 3, 8, 8), 0.5)

    monkeypatch.setattr(sampling, "sample_views", record)
    return seen


VIEWS = ["--count", "1", "--steps", "1", "--device", "cpu"]


def test_views_reads_every_kind_with_its_right_colour(kinds, tiny_project_model, model_input, tmp_path):
    for name, (path, rgb, tolerance) in kinds.items():
        assert main(["views", str(path), "--model", tiny_project_model, *VIEWS, "--out", str(tmp_path / name)]) == 0
        seen = prepare_image(model_input[-1], SIDE)[0]  # what the model's own preparation makes of it
        torch.testing.assert_close(seen[:, 0, 0], torch.tensor(rgb), atol=tolerance, rtol=0, msg=name)


def test_views_refuses_every_bad_kind_in_one_line(bad_kinds, tiny_project_model, model_input, tmp_path, capsys):
    for name, path in bad_kinds.items():
        assert main(["views", str(path), "--model", tiny_project_model, *VIEWS, "--out", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"zeronvs: error: {path}") and err.count("\n") == 1, err
        assert "Traceback" not in err
    assert model_input == []
