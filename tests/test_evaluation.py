"""The evaluation harness: protocol cameras and settings worked by hand, metrics against scikit-image, a
two-scene DTU run with the tiny model (files, summary, table), resume and re-scoring, and ``zeronvs eval``
on a Mip-NeRF 360 scene with LPIPS."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import zeronvs_core.evaluation as evaluation
from zeronvs_core.cameras import look_at, orbit_camera
from zeronvs_core.cli import main
from zeronvs_core.data.dtu import DTU_PROTOCOL
from zeronvs_core.data.mipnerf360 import MIPNERF360_PROTOCOL
from zeronvs_core.distill import PRESETS
from zeronvs_core.evaluation import evaluate, format_table, protocol_cameras, protocol_config, score_views
from zeronvs_core.lpips import load_lpips

ONE_STEP = replace(PRESETS["cpu_smoke"], steps=1, render_sizes=(16, 16), checkpoint_every=1)
DTU_VIEWS = (3, 10, 24, 25, 26)  # scored: 10, 24, 26 (25 is the input, 3 is excluded)
OFFICIAL = {
    "scan8": {"lpips": 0.2988, "psnr": 13.2329, "ssim": 0.6094},
    "scan21": {"lpips": 0.5783, "psnr": 8.4278, "ssim": 0.1739},
}


def test_protocol_cameras_by_hand():
    # ground truth: the input at the origin looking along -z; a target 1.4 units to its right, turned 90
    # degrees left about its own up axis. With gt_to_pred_scale 1.4 it lands 1 unit to the right of the
    # distillation's input camera (elevation 0: at (1,0,0) looking at the origin along -x, right = +y,
    # up = +z), i.e. at (1,1,0), looking along the input's left, -y: right = -x, up = +z, back = +y
    gt = torch.eye(4, dtype=torch.float64).repeat(2, 1, 1)
    gt[1, :3, :3] = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], dtype=torch.float64)
    gt[1, :3, 3] = torch.tensor([1.4, 0.0, 0.0], dtype=torch.float64)
    cameras = protocol_cameras(gt, 0, 0.0, 1.4)
    torch.testing.assert_close(cameras[0], orbit_camera(0.0, 0.0, 1.0)[0].double())
    expected = torch.tensor(
        [[-1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], dtype=torch.float64
    )
    torch.testing.assert_close(cameras[1], expected, atol=1e-12, rtol=0)


def test_protocol_config():
    base = PRESETS["cpu_smoke"]
    dtu = protocol_config(base, DTU_PROTOCOL, 20.0)
    assert (dtu.guidance_scale, dtu.rays.near, dtu.rays.far, dtu.background, dtu.lambda_opaque) == (
        7.5,
        0.25,
        100.0,
        "black",
        0.1,
    )
    assert dtu.anisotropic_offset is None and dtu.cameras == base.cameras
    assert (dtu.steps, dtu.render_sizes, dtu.field) == (base.steps, base.render_sizes, base.field)
    assert protocol_config(PRESETS["official"], DTU_PROTOCOL, 20.0) == PRESETS["official_dtu"]
    for elevation, expected in ((10.0, (5.0, 60.0)), (3.0, (3.0, 53.0)), (40.0, (10.0, 80.0)), (-10.0, (-10.0, 40.0))):
        mip = protocol_config(base, MIPNERF360_PROTOCOL, elevation)
        assert mip.cameras.elevation_deg == expected
    assert (mip.guidance_scale, mip.rays.near, mip.rays.far, mip.background, mip.lambda_opaque) == (
        9.5,
        0.6,
        1000.0,
        "random",
        0,
    )
    assert mip.anisotropic_offset == base.anisotropic_offset


def test_scores_match_scikit_image(lpips_files):
    g = torch.Generator().manual_seed(0)
    targets = torch.rand(3, 3, 24, 32, generator=g)
    renders = (targets + 0.1 * torch.randn(targets.shape, generator=g)).clamp(0, 1)
    scores = score_views(renders, targets)
    assert scores["lpips"] == [None, None, None]
    for i in range(3):
        x, y = renders[i].permute(1, 2, 0).double().numpy(), targets[i].permute(1, 2, 0).double().numpy()
        assert scores["psnr"][i] == pytest.approx(peak_signal_noise_ratio(y, x, data_range=1.0), abs=1e-4)
        assert scores["ssim"][i] == pytest.approx(structural_similarity(y, x, data_range=1.0, channel_axis=2), abs=1e-4)
    lpips = load_lpips(*lpips_files)
    with_lpips = score_views(renders, targets, lpips)
    assert with_lpips["lpips"] == pytest.approx(lpips(renders, targets).tolist(), rel=1e-5)


def _recorder(calls: list):
    """A ``progress.PhaseProgress`` whose callbacks record ``(description, step, total)``."""

    def phase(description):
        return lambda step, total, preview=None: calls.append((description, step, total))

    return phase


@pytest.fixture(scope="module")
def dtu_run(tmp_path_factory, tiny_model, write_dtu_scan):
    """A finished two-scan DTU evaluation: one distillation step per scan, 24x32 images, no LPIPS."""
    root = tmp_path_factory.mktemp("dtu")
    for scan in ("scan8", "scan21"):
        write_dtu_scan(root / scan, DTU_VIEWS, seed=int(scan[4:]))
    out, calls = root / "eval", []
    summary = evaluate(
        "dtu",
        root,
        tiny_model,
        out,
        ONE_STEP,
        ["8", "scan21"],
        eval_size=(24, 32),
        progress=_recorder(calls),
    )
    return root, out, summary, calls


def test_two_scene_evaluation(dtu_run):
    root, out, summary, calls = dtu_run
    records = {scan: json.loads((out / scan / "metrics.json").read_text()) for scan in ("scan8", "scan21")}
    for scan, gt_scale in (("scan8", 1.2), ("scan21", 1.4)):
        record = records[scan]
        assert [view["view"] for view in record["views"]] == [10, 24, 26]
        assert all(math.isfinite(view["psnr"]) and -1 <= view["ssim"] <= 1 for view in record["views"])
        assert all(view["lpips"] is None for view in record["views"]) and record["lpips"] is None
        assert record["psnr"] == pytest.approx(np.mean([view["psnr"] for view in record["views"]]))
        settings = record["settings"]
        assert (settings["input_view"], settings["elevation_deg"], settings["precomputed_scale"]) == (25, 20.0, 0.7)
        assert settings["gt_to_pred_scale"] == gt_scale and settings["background"] == [0.0, 0.0, 0.0]
        assert settings["fov_deg"] == pytest.approx(math.degrees(2 * math.atan2(12.0, 30.0)))
        assert (settings["distill"]["guidance_scale"], settings["distill"]["steps"]) == (7.5, 1)
        assert record["official"] == OFFICIAL[scan]
        assert sorted(p.name for p in (out / scan / "renders").iterdir()) == [f"view_{v:03d}.png" for v in (10, 24, 26)]
        assert (out / scan / "distill" / "last.ckpt").is_file()
    assert json.loads((out / "summary.json").read_text()) == summary
    assert [row["scene"] for row in summary["scenes"]] == ["scan8", "scan21"]
    assert summary["mean"]["psnr"] == pytest.approx((records["scan8"]["psnr"] + records["scan21"]["psnr"]) / 2)
    assert summary["mean"]["lpips"] is None
    assert summary["official_mean"]["psnr"] == pytest.approx(
        (OFFICIAL["scan8"]["psnr"] + OFFICIAL["scan21"]["psnr"]) / 2
    )
    assert summary["official_headline"] == {"lpips": 0.38, "psnr": 13.55, "ssim": 0.469}
    table = format_table(summary)
    assert "scan8" in table and "scan21" in table and "mean" in table and "13.23" in table and " -" in table
    assert calls[:4] == [
        ("scan8: distilling", 1, 1),
        ("scan8: rendering", 1, 3),
        ("scan8: rendering", 2, 3),
        ("scan8: rendering", 3, 3),
    ]


def test_finished_scenes_are_skipped(dtu_run, monkeypatch):
    root, out, summary, _ = dtu_run
    before = (out / "scan8" / "metrics.json").read_text()

    def no_distill(*args, **kwargs):
        raise AssertionError("a finished scene was distilled again")

    monkeypatch.setattr(evaluation, "distill", no_distill)
    again = evaluate("dtu", root, "no-such-model.ckpt", out, ONE_STEP, ["scan8"], eval_size=(24, 32))
    assert again == summary  # the model was never loaded; the summary covers every finished scan in out
    assert (out / "scan8" / "metrics.json").read_text() == before
    with pytest.raises(ValueError, match="another dataset, preset or evaluation size"):
        evaluate("dtu", root, "no-such-model.ckpt", out, replace(ONE_STEP, seed=1), ["scan8"], eval_size=(24, 32))


def test_rescoring_resumes_from_the_checkpoint(dtu_run, tiny_model, monkeypatch):
    root, out, summary, _ = dtu_run
    (out / "scan21" / "metrics.json").unlink()
    calls, real = [], evaluation.distill

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "distill", spy)
    again = evaluate("dtu", root, tiny_model, out, ONE_STEP, ["scan8", "scan21"], eval_size=(24, 32))
    assert len(calls) == 1 and calls[0]["resume"] and calls[0]["checkpoint_dir"] == out / "scan21" / "distill"
    assert again["scenes"] == summary["scenes"]  # the finished field is reused: the same renders and scores


def test_bad_arguments(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="dataset must be one of dtu, mipnerf360"):
        evaluate("llff", tmp_path, tiny_model, tmp_path)
    with pytest.raises(ValueError, match="unknown preset 'slow'"):
        evaluate("dtu", tmp_path, tiny_model, tmp_path, "slow")
    with pytest.raises(ValueError, match="unknown dtu scene '7'"):
        evaluate("dtu", tmp_path, tiny_model, tmp_path, scenes=["7"])
    with pytest.raises(ValueError, match="both LPIPS weight files"):
        evaluate("dtu", tmp_path, tiny_model, tmp_path, lpips_vgg="vgg.pth")
    with pytest.raises(ValueError, match="eval_size"):
        evaluate("dtu", tmp_path, tiny_model, tmp_path, eval_size=(8, 8))


def test_cli_mipnerf360_with_lpips(tmp_path, tiny_files, lpips_files, write_mipnerf360_scene, capsys):
    positions = torch.tensor(
        [[2.0, 0.0, 1.0], [-2.0, 0.5, 1.0], [0.0, 1.0, 1.5], [0.5, -1.0, 1.0]], dtype=torch.float64
    )
    c2w = look_at(positions)
    for i, roll in enumerate((0.3, 0.1, 0.0, 0.2)):  # bicycle's input rank 2: view 3
        c, s = math.cos(roll), math.sin(roll)
        c2w[i, :3, :3] = c2w[i, :3, :3] @ torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)
    write_mipnerf360_scene(tmp_path / "data" / "bicycle", c2w)
    weights, config = tiny_files
    vgg, lin = lpips_files
    out = tmp_path / "out"
    argv = ["eval", "--dataset", "mipnerf360", "--root", str(tmp_path / "data"), "--model", str(weights)]
    argv += ["--config", str(config), "--out", str(out), "--preset", "cpu_smoke", "--steps", "1"]
    argv += ["--scenes", "bicycle", "--lpips-vgg", str(vgg), "--lpips-lin", str(lin), "--eval-size", "32", "32"]
    assert main([*argv, "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "bicycle" in printed and f"wrote {out}/summary.json" in printed and "0.654" in printed
    record = json.loads((out / "bicycle" / "metrics.json").read_text())
    assert [view["view"] for view in record["views"]] == [v for v in range(4) if v != record["settings"]["input_view"]]
    assert all(view["lpips"] > 0 for view in record["views"]) and record["lpips"] > 0
    assert record["settings"]["background"] == [0.5, 0.5, 0.5] and record["settings"]["precomputed_scale"] == 0.9
    distilled = record["settings"]["distill"]
    assert distilled["steps"] == 1 and distilled["guidance_scale"] == 9.5 and distilled["near"] == 0.6
    low, high = distilled["cameras"]["elevation_deg"]
    elevation = record["settings"]["elevation_deg"]
    assert (low, high) == (round(max(elevation - 30, min(5, elevation)), 2), round(min(elevation + 50, 80), 2))


def test_cli_errors(tmp_path, tiny_files, capsys):
    weights, _ = tiny_files
    argv = ["eval", "--dataset", "dtu", "--root", str(tmp_path), "--model", str(weights), "--out", str(tmp_path)]
    assert main([*argv, "--scenes", "8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronvs: error: DTU scan not found") and err.count("\n") == 1
    assert main([*argv, "--preset", "slow"]) == 2
    assert "unknown preset 'slow'" in capsys.readouterr().err
