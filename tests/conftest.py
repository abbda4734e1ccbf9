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
