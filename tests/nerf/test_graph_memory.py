"""count_saved_bytes: hand-counted graphs."""

import torch

from zeronvs_core.nerf.graph_memory import count_saved_bytes


def test_counts_each_saved_storage_once():
    x = torch.rand(10, requires_grad=True)  # 40 bytes
    w = torch.rand(10)  # 40 bytes
    # The first mul saves w (x's gradient needs it); the second saves x and the first product (40 bytes each).
    saved, result = count_saved_bytes(lambda: (x * w) * x)
    assert saved == 120
    assert result.shape == (10,) and result.grad_fn is not None


def test_views_of_one_storage_count_once_and_excluded_storages_not_at_all():
    x = torch.rand(10, requires_grad=True)
    w = torch.rand(10, requires_grad=True)
    saved, _ = count_saved_bytes(lambda: x[:5] * x[5:])  # two views of x's 40-byte storage
    assert saved == 40
    saved, _ = count_saved_bytes(lambda: x * w, exclude=[w])  # mul saves both factors
    assert saved == 40


def test_nothing_is_saved_without_a_graph():
    x = torch.rand(10, requires_grad=True)
    with torch.no_grad():
        saved, _ = count_saved_bytes(lambda: x * x)
    assert saved == 0
