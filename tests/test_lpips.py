"""LPIPS-VGG built from local weight files: random backbones written in the real files' key layouts,
the metric's properties, a hand computation of its first layer, and clear errors for bad files."""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from zeronvs_core import metrics
from zeronvs_core.lpips import LPIPS, load_lpips


@pytest.fixture(scope="module")
def model(lpips_files) -> LPIPS:
    return load_lpips(*lpips_files)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 32, 32, generator=g)
    noisy = (clean + 0.2 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return clean, noisy


def test_zero_for_identical_symmetric_and_positive(model, images):
    clean, noisy = images
    assert torch.equal(model(clean, clean), torch.zeros(2))
    forward, backward = model(clean, noisy), model(noisy, clean)
    assert forward.shape == (2,) and (forward > 0).all()
    torch.testing.assert_close(forward, backward)
    assert (model(clean, 1 - clean) > forward).all()  # an inverted image is farther than a noisy one


def test_first_layer_by_hand(lpips_files, tmp_path, images):
    """With only ``lin0`` non-zero, LPIPS is the weighted distance of the normalised relu1_2 features."""
    vgg_path, lin_path = lpips_files
    lin = {key: torch.zeros_like(value) for key, value in torch.load(lin_path, weights_only=True).items()}
    lin["lin0.model.1.weight"] = torch.rand(1, 64, 1, 1, generator=torch.Generator().manual_seed(3))
    torch.save(lin, tmp_path / "lin0.pth")
    model = load_lpips(vgg_path, tmp_path / "lin0.pth")
    vgg = torch.load(vgg_path, weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def relu1_2(x):
        x = ((2 * x - 1) - shift) / scale
        x = F.relu(F.conv2d(x, vgg["features.0.weight"], vgg["features.0.bias"], padding=1))
        x = F.relu(F.conv2d(x, vgg["features.2.weight"], vgg["features.2.bias"], padding=1))
        return x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)

    clean, noisy = images
    weight = lin["lin0.model.1.weight"].view(1, 64, 1, 1)
    expected = (weight * (relu1_2(clean) - relu1_2(noisy)).square()).sum(dim=1).mean(dim=(1, 2))
    torch.testing.assert_close(model(clean, noisy), expected, rtol=1e-5, atol=1e-7)


def test_safetensors_backbone_and_metrics_export(lpips_files, tmp_path, model, images):
    vgg_path, lin_path = lpips_files
    save_file(torch.load(vgg_path, weights_only=True), str(tmp_path / "vgg16.safetensors"))
    other = metrics.load_lpips(tmp_path / "vgg16.safetensors", lin_path)
    assert metrics.LPIPS is LPIPS
    torch.testing.assert_close(other(*images), model(*images))


def test_missing_files_are_named(lpips_files, tmp_path):
    vgg_path, lin_path = lpips_files
    with pytest.raises(FileNotFoundError, match=r"nowhere\.pth.*vgg16-397923af\.pth"):
        load_lpips(tmp_path / "nowhere.pth", lin_path)
    with pytest.raises(FileNotFoundError, match=r"gone\.pth.*weights/v0\.1/vgg\.pth"):
        load_lpips(vgg_path, tmp_path / "gone.pth")


def test_wrong_keys_and_shapes(lpips_files, tmp_path):
    vgg_path, lin_path = lpips_files
    lin = torch.load(lin_path, weights_only=True)
    renamed = {key.replace(".model.1", ""): value for key, value in lin.items()}
    torch.save(renamed, tmp_path / "renamed.pth")
    with pytest.raises(ValueError, match=r"renamed\.pth lacks 5 expected keys.*lin0\.model\.1\.weight"):
        load_lpips(vgg_path, tmp_path / "renamed.pth")
    alexnet_like = {**lin}
    alexnet_like["lin1.model.1.weight"] = torch.rand(1, 192, 1, 1)
    torch.save(alexnet_like, tmp_path / "alex.pth")
    with pytest.raises(ValueError, match=r"lin1\.model\.1\.weight has shape \(1, 192, 1, 1\), expected \(1, 128"):
        load_lpips(vgg_path, tmp_path / "alex.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="must hold a state dict"):
        load_lpips(tmp_path / "list.pth", lin_path)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable state dict"):
        load_lpips(tmp_path / "text.pth", lin_path)


def test_bad_images(model):
    with pytest.raises(ValueError, match="at least 16x16"):
        model(torch.zeros(1, 3, 15, 32), torch.zeros(1, 3, 15, 32))
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 31))


def test_the_real_linear_layer_file_loads(lpips_files):
    """torchmetrics (a test dependency: ``pip install .[test]``; CPU-safe, it needs no torchvision for this)
    ships the ``lpips`` package's ``vgg.pth``: that real file loads. The ``lpips`` package itself and
    torchvision's VGG16 weights are not installed in CI (they pull CUDA builds and download weights)."""
    spec = importlib.util.find_spec("torchmetrics")
    if spec is None:
        pytest.skip("torchmetrics is not installed: install the test extra, pip install '.[test]'")
    path = Path(spec.origin).parent / "functional" / "image" / "lpips_models" / "vgg.pth"
    if not path.is_file():
        pytest.skip(f"{path} is not part of this torchmetrics version")
    model = load_lpips(lpips_files[0], path)
    weights = torch.cat([lin.weight.flatten() for lin in model.lins])
    assert weights.numel() == 64 + 128 + 256 + 512 + 512 and (weights >= 0).all() and weights.max() > 0.1
