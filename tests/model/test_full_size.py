"""The released architecture at full size (random weights): save, load and sample end to end on CPU.
Slow (about a minute, 10 GB of memory): run with ``python -m pytest -m slow``."""

import pytest
import torch

from zeronvs_core.cameras import orbit_camera, orbit_path
from zeronvs_core.model import ZeroNVSModel, load_zeronvs, save_zeronvs
from zeronvs_core.model.config import RELEASED_LDM_CONFIG, config_from_ldm
from zeronvs_core.sampling import sample_views

pytestmark = pytest.mark.slow


def test_full_size_round_trip_and_sampling(tmp_path):
    torch.manual_seed(0)
    model = ZeroNVSModel(config_from_ldm(RELEASED_LDM_CONFIG)).eval()
    path = save_zeronvs(model, tmp_path / "zeronvs_random.safetensors")
    assert 2.3e9 < path.stat().st_size < 2.6e9  # 1.25 B float16 weights
    expected = model.cc_projection.weight.detach().half().float()
    del model
    loaded = load_zeronvs(path)
    assert torch.equal(loaded.cc_projection.weight, expected)
    assert (
        sum(p.numel() for p in loaded.parameters()) == 859_532_484 + 83_653_863 + 303_966_208 + 605_184
    )  # manifest: UNet, VAE, CLIP, cc_projection

    photo = torch.rand(1, 3, 300, 400, generator=torch.Generator().manual_seed(0))
    targets = orbit_path(2, 20.0, azimuth_start_deg=30.0)
    views = sample_views(
        loaded,
        photo,
        orbit_camera(20.0, 0.0, 1.0),
        targets,
        52.55,
        0.7,
        steps=2,
        generator=torch.Generator().manual_seed(0),
    )
    assert views.shape == (2, 3, 256, 256)
    assert torch.isfinite(views).all() and 0.0 <= views.min() and views.max() <= 1.0
