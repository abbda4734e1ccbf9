"""LPIPS with the VGG16 backbone (Zhang et al. 2018, ``lpips.LPIPS(net="vgg")`` version 0.1), the
metric of the official 3D evaluation, built in plain PyTorch from two local weight files.

``d(x, y) = sum_l mean_hw( w_l . (f_l(x) - f_l(y))^2 )`` where ``f_l`` are the VGG16 activations after
relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, each divided by its channel norm (+1e-10), and
``w_l >= 0`` the learned per-channel weights (1x1 convolutions ``lin0`` ... ``lin4``). Inputs are images
in [0,1], mapped to [-1,1] and then shifted and scaled by LPIPS's constants.

Weight files (never downloaded; ``load_lpips`` names the missing one):

- the VGG16 backbone in torchvision's layout, e.g. ``vgg16-397923af.pth`` from
  ``https://download.pytorch.org/models/vgg16-397923af.pth``: keys ``features.{0,2,5,...,28}.weight`` and
  ``.bias`` (the ``classifier.*`` keys are ignored); ``.pth`` read with ``torch.load(weights_only=True)``
  or ``.safetensors``;
- the linear layers as the ``lpips`` package ships them (``lpips/weights/v0.1/vgg.pth``; torchmetrics
  has the same file): keys ``lin0.model.1.weight`` ... ``lin4.model.1.weight`` of shape ``[1,C,1,1]``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["LPIPS", "load_lpips"]

_CHANNELS = (64, 128, 256, 512, 512)
_CONVS_PER_BLOCK = (2, 2, 3, 3, 3)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10


def _vgg16_features() -> tuple[nn.Sequential, tuple[int, ...]]:
    """torchvision's ``vgg16().features`` (same module indices, so its state dict keys load as they are)
    without the last max-pool, and the indices of the ReLUs that LPIPS reads."""
    layers: list[nn.Module] = []
    taps = []
    in_channels = 3
    for block, (channels, convs) in enumerate(zip(_CHANNELS, _CONVS_PER_BLOCK, strict=True)):
        if block > 0:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        for _ in range(convs):
            layers += [nn.Conv2d(in_channels, channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = channels
        taps.append(len(layers) - 1)
    return nn.Sequential(*layers), tuple(taps)


class LPIPS(nn.Module):
    """LPIPS-VGG distance between two batches of images; build it with ``load_lpips``.

    ``forward(prediction, target)``: ``[B,3,H,W]`` in [0,1] each (H, W >= 16) -> ``[B]`` distances
    (0 for identical images; symmetric).
    """

    def __init__(self):
        super().__init__()
        self.features, self._taps = _vgg16_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in _CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def _activations(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = ((image * 2.0 - 1.0) - self.shift) / self.scale
        out = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._taps:
                out.append(x / (x.square().sum(dim=1, keepdim=True).sqrt() + _EPS))
        return out

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.ndim != 4 or prediction.shape[1] != 3 or prediction.shape != target.shape:
            raise ValueError(
                f"prediction and target must be [B,3,H,W] of one shape, got {list(prediction.shape)} and "
                f"{list(target.shape)}"
            )
        if min(prediction.shape[-2:]) < 16:
            raise ValueError(f"LPIPS-VGG needs images of at least 16x16, got {list(prediction.shape[-2:])}")
        device = self.shift.device
        ours = self._activations(prediction.to(device).float())
        theirs = self._activations(target.to(device).float())
        return sum(lin((a - b).square()).mean(dim=(1, 2, 3)) for lin, a, b in zip(self.lins, ours, theirs, strict=True))


def load_lpips(vgg_path: str | Path, lin_path: str | Path, device: str | torch.device = "cpu") -> LPIPS:
    """LPIPS-VGG from a torchvision VGG16 state dict and the ``lpips`` package's ``vgg.pth`` linear layers
    (see the module doc for the files and their keys).

    Raises:
        FileNotFoundError: a file is missing (the message says which file and where it comes from).
        ValueError: a file lacks keys or has wrong shapes.
    """
    model = LPIPS()
    vgg = _read(vgg_path, "the VGG16 backbone (torchvision's vgg16-397923af.pth)")
    lin = _read(lin_path, "the LPIPS linear layers (the lpips package's weights/v0.1/vgg.pth)")
    features = {f"features.{key}": value for key, value in model.features.state_dict().items()}
    _check(vgg, features, vgg_path)
    lins = {f"lin{k}.model.1.weight": layer.weight for k, layer in enumerate(model.lins)}
    _check(lin, lins, lin_path)
    model.features.load_state_dict({key[len("features.") :]: vgg[key] for key in features})
    for k, layer in enumerate(model.lins):
        layer.weight.copy_(lin[f"lin{k}.model.1.weight"])
    return model.to(device)


def _read(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LPIPS weight file {path} does not exist: it should hold {what}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for files that are not plain state dicts
        raise ValueError(f"{path} is not a readable state dict ({error})") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path} must hold a state dict (name -> tensor), got {type(state).__name__}")
    return state


def _check(found: dict, expected: dict[str, torch.Tensor], path) -> None:
    missing = [key for key in expected if key not in found]
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} expected keys, e.g. {missing[:3]}")
    for key, value in expected.items():
        if tuple(found[key].shape) != tuple(value.shape):
            raise ValueError(f"{path}: {key} has shape {tuple(found[key].shape)}, expected {tuple(value.shape)}")
