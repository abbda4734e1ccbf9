"""Shared test helpers: paths of the fixture files copied from the official code's outputs."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def official_conditioning() -> dict[str, torch.Tensor]:
    """``official_conditioning.npz`` (float64) as tensors."""
    with np.load(FIXTURES / "official_conditioning.npz") as data:
        return {key: torch.from_numpy(data[key]) for key in data.files}


@pytest.fixture(scope="session")
def tiny_oracle() -> dict[str, torch.Tensor]:
    """``tiny_official/oracle.safetensors``: inputs and outputs of the official tiny model."""
    return load_file(FIXTURES / "tiny_official" / "oracle.safetensors")


@pytest.fixture
def random_rigid():
    """``random_rigid(n, seed)``: ``[n,4,4]`` float64 random rigid camera-to-world matrices (det +1)."""
    return _random_rigid


def _random_rigid(n: int, seed: int = 0, translation_scale: float = 2.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2))[:, None, :]
    q[torch.linalg.det(q) < 0, :, 0] *= -1
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, :3, :3] = q
    c2w[:, :3, 3] = translation_scale * torch.randn(n, 3, generator=generator, dtype=torch.float64)
    return c2w


TINY_WEIGHTS = FIXTURES / "tiny_official" / "model.safetensors"
TINY_CONFIG = FIXTURES / "tiny_official" / "config.yaml"


@pytest.fixture(scope="session")
def tiny_files() -> tuple[Path, Path]:
    """``(weights, config)`` paths of the official tiny model (official key layout, LDM yaml)."""
    return TINY_WEIGHTS, TINY_CONFIG


@pytest.fixture(scope="session")
def tiny_model():
    """The official tiny ZeroNVS model (random weights) loaded from its safetensors file, float32 CPU.
    Shared by many tests: do not modify it."""
    from zeronvs_core.model import load_zeronvs

    return load_zeronvs(TINY_WEIGHTS, config=TINY_CONFIG)


_VGG16_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256), 14: (256, 256)}
_VGG16_CONVS.update({17: (256, 512), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512)})
"""torchvision ``vgg16().features`` index of each convolution: (in, out) channels."""


def _random_vgg16_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random VGG16 weights with torchvision's key names (He-initialised, so activations stay O(1)), plus
    a small ``classifier`` entry standing for the keys that LPIPS ignores."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for index, (c_in, c_out) in _VGG16_CONVS.items():
        std = (2 / (9 * c_in)) ** 0.5
        state[f"features.{index}.weight"] = std * torch.randn(c_out, c_in, 3, 3, generator=generator)
        state[f"features.{index}.bias"] = 0.01 * torch.randn(c_out, generator=generator)
    state["classifier.6.bias"] = torch.zeros(10)
    return state


def _random_lpips_lin_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """Random non-negative LPIPS linear layers with the ``lpips`` package's key names (``vgg.pth``)."""
    generator = torch.Generator().manual_seed(seed)
    return {
        f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=generator)
        for k, c in enumerate((64, 128, 256, 512, 512))
    }


@pytest.fixture(scope="session")
def lpips_files(tmp_path_factory) -> tuple[Path, Path]:
    """``(vgg, lin)``: random LPIPS weight files in the real files' formats (``torch.save`` state dicts)."""
    folder = tmp_path_factory.mktemp("lpips")
    vgg, lin = folder / "vgg16-random.pth", folder / "lin-random.pth"
    torch.save(_random_vgg16_state(), vgg)
    torch.save(_random_lpips_lin_state(), lin)
    return vgg, lin


@pytest.fixture(scope="session")
def write_dtu_scan():
    """``write(folder, views, size=(24, 32), seed=0)``: a DTU scan in pixelNeRF's layout with cameras for
    views 0..48 (look-at cameras on a ring, focal 30 px) and random images for ``views``."""
    return _write_dtu_scan


def _write_dtu_scan(folder: Path, views, size=(24, 32), seed=0) -> None:
    from zeronvs_core.camera_conventions import opengl_to_opencv
    from zeronvs_core.cameras import look_at

    folder.mkdir(parents=True)
    angles = torch.linspace(0, 2 * np.pi, 50, dtype=torch.float64)[:49]
    positions = torch.stack([3 * torch.cos(angles), 3 * torch.sin(angles), torch.full_like(angles, -2.0)], dim=1)
    c2w_cv = opengl_to_opencv(look_at(positions)).numpy()
    intrinsics = np.array([[30.0, 0.0, size[1] / 2], [0.0, 30.0, size[0] / 2], [0.0, 0.0, 1.0]])
    cameras = {}
    for i in range(49):
        rotation, centre = c2w_cv[i, :3, :3].T, c2w_cv[i, :3, 3:]
        cameras[f"world_mat_{i}"] = np.eye(4)
        cameras[f"world_mat_{i}"][:3] = intrinsics @ np.concatenate([rotation, -rotation @ centre], axis=1)
        cameras[f"scale_mat_{i}"] = np.diag([1.5, 1.5, 1.5, 1.0])
    np.savez(folder / "cameras.npz", **cameras)
    _write_images(folder / "image", [f"{view:06d}.png" for view in views], size, seed)


@pytest.fixture(scope="session")
def write_mipnerf360_scene():
    """``write(folder, c2w, folders=((8, 48, 32),), count=None)``: a Mip-NeRF 360 scene with
    ``poses_bounds.npy`` for OpenGL cameras ``c2w [N,4,4]`` (full resolution 384x256, focal 300 px) and
    ``count`` (default N) random images per ``(factor, width, height)`` folder."""
    return _write_mipnerf360_scene


def _write_mipnerf360_scene(folder: Path, c2w: torch.Tensor, folders=((8, 48, 32),), count=None) -> None:
    from zeronvs_core.camera_conventions import opengl_to_llff

    folder.mkdir(parents=True)
    n = c2w.shape[0]
    poses = opengl_to_llff(c2w).numpy()
    hwf = np.broadcast_to(np.array([256.0, 384.0, 300.0])[None, :, None], (n, 3, 1))
    rows = np.concatenate([np.concatenate([poses, hwf], axis=2).reshape(n, 15), np.tile([0.5, 10.0], (n, 1))], 1)
    np.save(folder / "poses_bounds.npy", rows)
    for factor, width, height in folders:
        names = [f"IMG_{i:03d}.png" for i in range(n if count is None else count)]
        _write_images(folder / f"images_{factor}", names, (height, width), seed=factor)


def _write_images(folder: Path, names, size, seed) -> None:
    import imageio.v3 as iio

    folder.mkdir()
    rng = np.random.default_rng(seed)
    for name in names:
        iio.imwrite(folder / name, rng.integers(0, 256, (*size, 3), dtype=np.uint8))
