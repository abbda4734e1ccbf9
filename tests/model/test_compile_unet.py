"""``ZeroNVSModel.compile_unet``: the compiled UNet predicts what the eager one does; the state dict is unchanged.
Slow: compiling the tiny UNet with inductor takes minutes on the 2-core CPU."""

import pytest
import torch

from zeronvs_core.model import load_zeronvs

pytestmark = pytest.mark.slow


def test_the_compiled_unet_gives_the_eager_prediction():
    from tests.conftest import TINY_CONFIG, TINY_WEIGHTS

    model = load_zeronvs(TINY_WEIGHTS, config=TINY_CONFIG)
    keys = list(model.state_dict())
    generator = torch.Generator().manual_seed(0)
    latents, concat = torch.randn(2, 2, 4, 32, 32, generator=generator)
    context = torch.randn(2, 1, model.config.context_dim, generator=generator)
    t = torch.tensor([10, 700])
    with torch.no_grad():
        eager = model.eps(latents, t, context, concat, guidance_scale=3.0)
        model.compile_unet()
        compiled = model.eps(latents, t, context, concat, guidance_scale=3.0)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    assert list(model.state_dict()) == keys
