"""Distillation without host round trips and within a memory budget: deferred back-propagation over ray chunks
gives the single pass's losses and gradients, resumes exactly, and the device generator's state is checkpointed."""

import math
from dataclasses import replace

import pytest
import torch

import zeronvs_core.distill.run as distill_module
from zeronvs_core.device_runtime import memory_budget_bytes, prefer_expandable_segments
from zeronvs_core.distill import PRESETS, DistillConfig, distill
from zeronvs_core.distill.run import _Run

# both normal losses (second-order gradients through the grid) and the opacity loss
NORMALS_RUN = replace(
    PRESETS["cpu_smoke"],
    steps=3,
    batch_sizes=(1, 1),
    render_sizes=(16, 16),
    lambda_normal_smooth=8.0,
    lambda_orient=5.0,
    lambda_opaque=0.1,
    checkpoint_every=100,
)
ARGS = (52.55, 31.0, 0.7)
CHUNK = 96  # rays per chunk: 16x16 views split into 3 chunks, the last one short


@pytest.fixture(scope="module")
def photo():
    image = torch.zeros(1, 3, 64, 64)
    image[:, 0, :, :32] = 1.0
    image[:, 1:, 40:] = 0.5
    return image


@pytest.fixture(scope="module")
def chunked_run(tiny_model, photo):
    """``NORMALS_RUN`` with the memory budget that makes chunks of ``CHUNK`` rays."""
    per_ray = _Run(tiny_model, photo, *ARGS, NORMALS_RUN)._probe_bytes_per_ray()
    return replace(NORMALS_RUN, memory_budget_gib=CHUNK * per_ray / 2**30)


def _one_step(model, photo, config):
    """Run one step without the optimiser update: ``(loss record, {parameter name: gradient})``."""
    run = _Run(model, photo, *ARGS, config)
    run.optimizer.step = run.proposal_optimizer.step = lambda: None
    run.train_step()
    run.read_back()
    return run.history[0], {name: p.grad for name, p in run.scene.named_parameters()}


def _assert_same_step(model, photo, single_config, deferred_config, tolerance):
    single_losses, single_grads = _one_step(model, photo, single_config)
    deferred_losses, deferred_grads = _one_step(model, photo, deferred_config)
    assert set(single_losses) == {"sds", "rgb", "normal_smooth", "orient", "opaque", "proposal", "total"}
    for name, value in single_losses.items():
        assert math.isclose(deferred_losses[name], value, rel_tol=1e-5, abs_tol=1e-7), name
    for name, grad in single_grads.items():
        assert grad is not None and grad.abs().max() > 0, name
        difference = (deferred_grads[name] - grad).norm() / grad.norm()
        assert difference < tolerance, (name, difference.item())


def test_deferred_backprop_gives_the_single_pass_losses_and_gradients(tiny_model, photo, chunked_run):
    run = _Run(tiny_model, photo, *ARGS, chunked_run)
    assert run._ray_chunk(1, 16) == CHUNK and _Run(tiny_model, photo, *ARGS, NORMALS_RUN)._ray_chunk(1, 16) is None
    _assert_same_step(tiny_model, photo, NORMALS_RUN, chunked_run, 1e-5)  # measured <= 3.5e-6


def test_deferred_backprop_with_the_encoder_run_per_view(tiny_model, photo, chunked_run):
    # two SDS views: the VAE encoder and its backward run one view at a time (batch 1 instead of 2), which
    # moves the SDS route's rounding: measured 3.5e-5 relative on the field's table and MLPs
    two = {"batch_sizes": (2, 2)}
    _assert_same_step(tiny_model, photo, replace(NORMALS_RUN, **two), replace(chunked_run, **two), 1e-4)


def test_an_interrupted_deferred_run_resumes_exactly(tiny_model, photo, chunked_run, tmp_path, monkeypatch):
    straight = distill(tiny_model, photo, *ARGS, chunked_run)
    calls, original = [], distill_module.backward_deferred

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # step 2, after its renders and SDS, before any chunk is back-propagated
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(distill_module, "backward_deferred", interrupted)
    with pytest.raises(KeyboardInterrupt):
        distill(tiny_model, photo, *ARGS, chunked_run, checkpoint_dir=tmp_path)
    monkeypatch.undo()
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["step"] == 1
    resumed = distill(tiny_model, photo, *ARGS, chunked_run, checkpoint_dir=tmp_path, resume=True)
    assert resumed.step == 3 and resumed.history == straight.history
    for key, value in straight.scene.state_dict().items():
        assert torch.equal(value, resumed.scene.state_dict()[key]), key


def _separate_generator(generator, device):
    """What ``device_generator`` makes on CUDA, on the CPU: a second generator seeded from the run's."""
    return torch.Generator(device).manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))


def test_the_device_generator_state_survives_a_checkpoint(tiny_model, photo, tmp_path, monkeypatch):
    monkeypatch.setattr(distill_module, "device_generator", _separate_generator)
    config = replace(PRESETS["cpu_smoke"], steps=4, render_sizes=(16, 16), checkpoint_every=100)
    straight = distill(tiny_model, photo, *ARGS, config)

    def stop(step, total, preview=None):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(tiny_model, photo, *ARGS, config, checkpoint_dir=tmp_path, callback=stop)
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert state["step"] == 1 and not torch.equal(state["device_generator"], state["generator"])
    run = _Run(tiny_model, photo, *ARGS, config)
    assert not torch.equal(run.device_generator.get_state(), state["device_generator"])
    run.load(tmp_path / "last.ckpt")
    assert torch.equal(run.device_generator.get_state(), state["device_generator"])
    resumed = distill(tiny_model, photo, *ARGS, config, checkpoint_dir=tmp_path, resume=True)
    assert resumed.history == straight.history
    for key, value in straight.scene.state_dict().items():
        assert torch.equal(value, resumed.scene.state_dict()[key]), key


def test_phase_timing_can_be_switched_off(tiny_model, photo):
    config = replace(PRESETS["cpu_smoke"], steps=1, render_sizes=(16, 16))
    assert distill(tiny_model, photo, *ARGS, config, phase_timing=False).timings == {}


@pytest.mark.parametrize("budget", [0, -1.0, "big", True])
def test_bad_memory_budgets(budget):
    with pytest.raises(ValueError, match="memory_budget_gib must be None, 'auto' or a positive number of GiB"):
        DistillConfig(memory_budget_gib=budget)


def test_memory_budget_resolution():
    cpu = torch.device("cpu")
    assert memory_budget_bytes(None, cpu) is None and memory_budget_bytes("auto", cpu) is None
    assert memory_budget_bytes(1.5, cpu) == 3 * 2**29


def test_expandable_segments_only_for_cuda_and_when_unset(monkeypatch):
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    assert not prefer_expandable_segments("cpu")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert prefer_expandable_segments("cuda")
    import os

    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
    assert not prefer_expandable_segments("cuda")
    assert os.environ["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:128"
