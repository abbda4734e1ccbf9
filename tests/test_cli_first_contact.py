"""Issue 25 case 1: ``zeronvs`` as a new user meets it. Unusable output folders, bad values and bad files
give one ``zeronvs: error:`` line naming the path and exit 2, before any heavy work (loading a model,
distilling); ``run.json`` records failures and resumed runs; ``render`` picks the CPU's video size."""

import errno
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zeronvs_core.distill
import zeronvs_core.model
import zeronvs_core.render
from zeronvs_core import cli, jobs
from zeronvs_core.cameras import orbit_path
from zeronvs_core.cli import error_line, main
from zeronvs_core.distill import PRESETS, DistillResult
from zeronvs_core.fingerprint import file_sha256, weights_sha256
from zeronvs_core.model import load_zeronvs, save_zeronvs
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.render import save_scene, settings_for

ROOT = Path(__file__).parents[1]
EXAMPLE = str(ROOT / "demo" / "object.png")
SMALL_ORBIT = ["--steps", "3", "--frames", "1", "--size", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def tiny_project_model(tiny_model, tmp_path_factory):
    return str(save_zeronvs(tiny_model, tmp_path_factory.mktemp("model") / "tiny.safetensors", dtype=torch.float32))


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Loading a model or distilling fails the test: each is patched where the jobs look it up."""

    def heavy(*args, **kwargs):
        raise AssertionError("heavy work")

    monkeypatch.setattr(zeronvs_core.model, "load_zeronvs", heavy)
    monkeypatch.setattr(zeronvs_core.distill, "distill", heavy)


def one_error_line(capsys) -> str:
    """The single ``zeronvs: error:`` line printed to stderr (asserting there is exactly one line)."""
    err = capsys.readouterr().err
    assert err.startswith("zeronvs: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


# --- --out that cannot be a folder ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("file", "output folder {tmp}/file is an existing file, not a folder"),
        ("file/sub", "output folder {tmp}/file/sub cannot be made: {tmp}/file is a file, not a folder"),
        ("file/a/b", "output folder {tmp}/file/a/b cannot be made: {tmp}/file is a file, not a folder"),
    ],
)
@pytest.mark.parametrize("command", ["views", "orbit"])
def test_out_in_the_way_of_a_file_is_one_line(command, where, message, tmp_path, capsys, no_heavy_work):
    (tmp_path / "file").write_text("not a folder")
    assert main([command, EXAMPLE, "--device", "cpu", "--out", str(tmp_path / where)]) == 2
    assert one_error_line(capsys) == "zeronvs: error: " + message.replace("{tmp}", str(tmp_path))
    assert (tmp_path / "file").read_text() == "not a folder"


def test_render_out_under_a_file_is_one_line(tmp_path, capsys, no_heavy_work):
    scene = _saved_scene(tmp_path)
    (tmp_path / "file").write_text("")
    assert main(["render", str(scene), "--out", str(tmp_path / "file" / "r")]) == 2
    assert f"{tmp_path}/file is a file, not a folder" in one_error_line(capsys)


@pytest.mark.parametrize("out", ["/sys/zz", "/proc/zz"])
def test_unwritable_out_is_one_line_naming_it(out, capsys, no_heavy_work):
    if not Path(out).parent.is_dir():
        pytest.skip(f"no {Path(out).parent} here")
    assert main(["views", EXAMPLE, "--device", "cpu", "--out", out]) == 2
    assert one_error_line(capsys).startswith(f"zeronvs: error: cannot write to output folder {out}: ")


def test_unwritable_out_in_a_real_process_has_no_traceback(tmp_path):
    """The installed command's path: ``python -m zeronvs_core``, stderr as a user sees it."""
    (tmp_path / "file").write_text("")
    out = str(tmp_path / "file" / "sub")
    done = subprocess.run(
        [sys.executable, "-m", "zeronvs_core", "orbit", EXAMPLE, "--device", "cpu", "--out", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"zeronvs: error: output folder {out} cannot be made: {tmp_path}/file is a file, not a folder"
    ]


def test_error_line_names_the_paths_of_any_oserror():
    error = PermissionError(errno.EACCES, "Permission denied", "/data/out")
    assert error_line(error) == "/data/out: Permission denied"
    error = OSError(errno.EXDEV, "Invalid cross-device link", "/a/x.tmp", None, "/b/x")
    assert error_line(error) == "/a/x.tmp -> /b/x: Invalid cross-device link"
    assert error_line(ValueError("two\n  lines")) == "two lines"


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(errno.EACCES, "Permission denied", "/data/out/run.json"),
        OSError(errno.ENOSPC, "No space left on device", "/data/out/frames"),
        IsADirectoryError(errno.EISDIR, "Is a directory", "/data/out/orbit.mp4"),
    ],
)
def test_any_oserror_from_a_job_is_one_line_exit_2(error, monkeypatch, capsys):
    def raising(*args, **kwargs):
        raise error

    monkeypatch.setattr(jobs, "novel_views", raising)
    assert main(["views", EXAMPLE]) == 2
    assert one_error_line(capsys) == f"zeronvs: error: {error.filename}: {error.strerror}"


# --- every value and input checked before heavy work -------------------------------------------------


def _small_image(tmp_path, size=7) -> str:
    path = tmp_path / f"small{size}.png"
    Image.new("RGB", (size, size), (200, 100, 50)).save(path)
    return str(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["orbit", EXAMPLE, "--frames", "0"], "--frames must be at least 1, got 0"),
        (["orbit", EXAMPLE, "--size", "7"], "--size must be at least 8, got 7"),
        (["orbit", EXAMPLE, "--steps", "0"], "--steps must be at least 1, got 0"),
        (["orbit", EXAMPLE, "--anchors", "-1"], "--anchors must be at least 0, got -1"),
        (["views", EXAMPLE, "--steps", "0"], "--steps must be an integer in [1, 1000], got 0"),
        (["views", EXAMPLE, "--steps", "1001"], "--steps must be an integer in [1, 1000], got 1001"),
        (["views", "{small}"], "{small} is 7x7 pixels; a photo must be at least 8x8"),
        (["orbit", "{small}"], "{small} is 7x7 pixels; a photo must be at least 8x8"),
        (["views", EXAMPLE, "--model", "{tmp}/none.ckpt"], "model file {tmp}/none.ckpt does not exist"),
        (["orbit", EXAMPLE, "--model", "{tmp}"], "model file {tmp} is a folder; give the checkpoint file in it"),
        (["info", "{tmp}"], "model file {tmp} is a folder; give the checkpoint file in it"),
    ],
)
def test_bad_values_are_refused_before_any_heavy_work(args, message, tmp_path, capsys, no_heavy_work):
    small = _small_image(tmp_path)
    fill = {"{small}": small, "{tmp}": str(tmp_path)}
    for key, value in fill.items():
        args = [a.replace(key, value) for a in args]
        message = message.replace(key, value)
    out = tmp_path / "out"
    options = [] if args[0] == "info" else ["--device", "cpu", "--out", str(out)]
    assert main([*args, *options]) == 2
    assert one_error_line(capsys).startswith(f"zeronvs: error: {message}")
    assert not out.exists()  # nothing made: no run.json, scene or checkpoint


@pytest.mark.parametrize("render_args", [["--frames", "0"], ["--size", "7"], ["--distance", "0"]])
def test_render_bad_values_are_refused_before_the_scene_is_read(render_args, tmp_path, capsys, monkeypatch):
    def heavy(*args, **kwargs):
        raise AssertionError("heavy work")

    monkeypatch.setattr(zeronvs_core.render, "load_scene", heavy)
    out = tmp_path / "out"
    assert main(["render", str(tmp_path / "scene.safetensors"), *render_args, "--out", str(out)]) == 2
    assert f"{render_args[0]} must" in one_error_line(capsys)
    assert not out.exists()


def test_convert_to_a_wrong_destination_is_refused_before_loading(tiny_files, tmp_path, capsys, no_heavy_work):
    weights, config = tiny_files
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    cases = {
        str(tmp_path / "x.bin"): f"destination {tmp_path}/x.bin must end in .safetensors (the project's format)",
        str(tmp_path): f"destination {tmp_path} must end in .safetensors (the project's format)",
        str(folder): f"destination {folder} is a folder; give a file name ending in .safetensors",
    }
    for destination, message in cases.items():
        for extra in ([], ["--comfyui"]):
            if extra and destination.endswith(".safetensors"):
                continue  # --comfyui writes a .ckpt-style file: its own checks (test_comfyui_checkpoint)
            assert main(["convert", str(weights), destination, "--config", str(config), *extra]) == 2
            assert one_error_line(capsys) == f"zeronvs: error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.safetensors"]


def test_convert_from_a_folder_is_one_line(tmp_path, capsys):
    folder = tmp_path / "model.ckpt"
    folder.mkdir()
    assert main(["convert", str(folder), str(tmp_path / "y.safetensors")]) == 2
    assert one_error_line(capsys) == f"zeronvs: error: {folder} is a folder, not a weight file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]


# --- run.json records how a run ended ---------------------------------------------------------------


def test_a_failed_run_records_failed_and_the_message(tmp_path, capsys):
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"")
    out = tmp_path / "out"
    assert main(["views", EXAMPLE, "--model", str(broken), "--device", "cpu", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed" and record["failed_during"] == "load"
    assert line == f"zeronvs: error: {record['error']}" and str(broken) in record["error"]
    assert record["inputs"] == {"image_sha256": file_sha256(EXAMPLE)}


def _progress(stop_at=None):
    """``cli._progress`` whose distillation callback raises ``KeyboardInterrupt`` (Ctrl-C) at step ``stop_at``."""

    def phase(description):
        def callback(step, total, preview=None):
            if description.startswith("distillation") and step == stop_at:
                raise KeyboardInterrupt

        return callback

    return phase


def test_resume_records_the_step_and_the_interrupted_parts(tiny_project_model, tmp_path, monkeypatch, capsys):
    """Cheap: the distillation is replaced by one that is interrupted at step 2, then resumes from it; two
    interruptions make two parts, earliest first."""
    calls = []

    def fake_distill(model, image, fov, elevation, scale, config, checkpoint_dir, resume, callback):
        calls.append(resume)
        if len(calls) < 3:
            callback(2, config.steps, None)
            raise KeyboardInterrupt
        return DistillResult(Scene(config.field), config.steps, start_step=2)

    monkeypatch.setattr(zeronvs_core.distill, "distill", fake_distill)
    out = tmp_path / "orbit"
    args = ["orbit", EXAMPLE, "--model", tiny_project_model, *SMALL_ORBIT, "--out", str(out)]
    assert main(args) == 130
    first = json.loads((out / "run.json").read_text())
    assert main([*args, "--resume"]) == 130
    second = json.loads((out / "run.json").read_text())
    part = {"status": "interrupted during distill", "seconds": first["seconds"]}
    assert second["status"] == "interrupted during distill"
    assert second["resumed"] == {"from_step": None, "interrupted_parts": [part]}  # kept for the next resume
    assert main([*args, "--resume"]) == 0 and calls == [False, True, True]
    capsys.readouterr()
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done"
    parts = [{"status": "interrupted during distill", "seconds": run["seconds"]} for run in (first, second)]
    assert record["resumed"] == {"from_step": 2, "interrupted_parts": parts}
    assert set(first["seconds"]) == {"load", "distill", "total"}


@pytest.mark.slow
def test_an_interrupted_then_resumed_run_records_both_parts(tiny_project_model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "orbit"
    args = ["orbit", EXAMPLE, "--model", tiny_project_model, *SMALL_ORBIT, "--out", str(out)]
    monkeypatch.setattr(cli, "_progress", _progress(stop_at=2))
    assert main(args) == 130
    capsys.readouterr()
    interrupted = json.loads((out / "run.json").read_text())
    assert interrupted["status"] == "interrupted during distill" and "resumed" not in interrupted

    monkeypatch.setattr(cli, "_progress", _progress())
    assert main([*args, "--resume"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done"
    assert record["resumed"] == {
        "from_step": 2,
        "interrupted_parts": [{"status": "interrupted during distill", "seconds": interrupted["seconds"]}],
    }
    assert interrupted["seconds"]["distill"] > 0 and interrupted["seconds"]["total"] >= interrupted["seconds"]["load"]
    assert record["inputs"] == {
        "image_sha256": file_sha256(EXAMPLE),
        "model_sha256": weights_sha256(load_zeronvs(tiny_project_model)),
    }


def test_a_fresh_run_records_no_resume_and_the_input_hashes(tiny_project_model, tmp_path):
    out = tmp_path / "views"
    args = ["views", EXAMPLE, "--model", tiny_project_model, "--count", "1", "--steps", "1", "--device", "cpu"]
    assert main([*args, "--out", str(out)]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "done" and "resumed" not in record and "error" not in record
    assert record["inputs"]["image_sha256"] == file_sha256(EXAMPLE)
    assert record["inputs"]["model_sha256"] == weights_sha256(load_zeronvs(tiny_project_model))


# --- one true diagnosis per bad file -----------------------------------------------------------------


class _NotWeights:
    """A pickled Python object: what ``weights_only=True`` refuses."""


def _bad_files(tmp_path) -> dict[str, tuple[list[str], str]]:
    """``{case: (args, expected start of the message)}``."""
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, I am not a picture\n")
    (tmp_path / "random.ckpt").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "photos").mkdir()
    (tmp_path / "truncated.ckpt").write_bytes(_torch_bytes({"w": torch.zeros(64)})[:200])
    (tmp_path / "objects.ckpt").write_bytes(_torch_bytes({"state_dict": {"w": _NotWeights()}}))
    t = str(tmp_path)
    return {
        "folder as image": (["views", f"{t}/photos"], f"{t}/photos is a folder, not an image file"),
        "empty .png": (["views", f"{t}/empty.png"], f"{t}/empty.png is empty (0 bytes), not an image"),
        "text .png": (["views", f"{t}/text.png"], f"{t}/text.png is not a readable image"),
        "random .ckpt": (
            ["views", EXAMPLE, "--model", f"{t}/random.ckpt"],
            f"{t}/random.ckpt is not a PyTorch checkpoint",
        ),
        "empty .ckpt": (["views", EXAMPLE, "--model", f"{t}/empty.ckpt"], f"{t}/empty.ckpt is empty (0 bytes)"),
        "truncated .ckpt": (
            ["views", EXAMPLE, "--model", f"{t}/truncated.ckpt"],
            f"{t}/truncated.ckpt is not a PyTorch checkpoint",
        ),
        "objects .ckpt": (
            ["views", EXAMPLE, "--model", f"{t}/objects.ckpt"],
            f"{t}/objects.ckpt: refused to load: it holds Python objects other than weights",
        ),
        "random as info": (["info", f"{t}/random.ckpt"], f"{t}/random.ckpt is not a PyTorch checkpoint"),
    }


def _torch_bytes(value) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "case",
    [
        "folder as image",
        "empty .png",
        "text .png",
        "random .ckpt",
        "empty .ckpt",
        "truncated .ckpt",
        "objects .ckpt",
        "random as info",
    ],
)
def test_each_bad_file_gets_its_own_one_line_diagnosis(case, tmp_path, capsys):
    args, message = _bad_files(tmp_path)[case]
    extra = [] if args[0] == "info" else ["--device", "cpu", "--out", str(tmp_path / "out")]
    assert main([*args, *extra]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"zeronvs: error: {message}"), line
    for advice in ("weights_only=False", "plugin", "does not exist", "pip install"):
        assert advice not in line
    assert len(line) < 400


def test_the_random_bytes_are_not_a_pickle_by_chance(tmp_path):
    """The diagnosis is what the bytes are: neither zip, legacy torch, nor safetensors."""
    from zeronvs_core.tensor_files import _sniff

    _bad_files(tmp_path)
    assert _sniff(tmp_path / "random.ckpt") is None and _sniff(tmp_path / "empty.ckpt") is None
    assert _sniff(tmp_path / "objects.ckpt") == "zip"
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):  # PyTorch's own advice, never shown
        torch.load(tmp_path / "objects.ckpt", weights_only=True)


# --- official layout without --config ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["info", "convert"])
def test_official_layout_without_config_is_one_sentence_naming_config(command, tiny_files, tmp_path, capsys):
    weights, _ = tiny_files
    args = ["info", str(weights)] if command == "info" else ["convert", str(weights), str(tmp_path / "x.safetensors")]
    assert main(args) == 2
    line = one_error_line(capsys)
    message = line.removeprefix(f"zeronvs: error: {weights} ")
    assert message.startswith("has the official key layout but not the released ZeroNVS architecture")
    assert "--config" in message and len(message) < 300, message
    assert re.search(r"\. [A-Z]", message) is None  # one sentence
    assert "unet.conv_in.weight: [32, 8, 3, 3] in the file, [320, 8, 3, 3] released" in message
    assert not (tmp_path / "x.safetensors").exists()


# --- render's defaults follow the device -------------------------------------------------------------


def _saved_scene(tmp_path) -> Path:
    config = PRESETS["cpu_smoke"]
    return save_scene(Scene(config.field), tmp_path / "scene.safetensors", settings_for(config, 50.0, 20.0))


def test_render_defaults_to_the_cpu_video_size(tmp_path, monkeypatch, capsys):
    used = []

    def fake_outputs(scene, out, settings, cameras, size, progress):
        torch.testing.assert_close(cameras.target_c2w, orbit_path(len(cameras), cameras.elevation_deg))
        used.append((len(cameras), size, 1.0, cameras.fov_deg, cameras.elevation_deg))
        return {"orbit": "o.mp4", "depth": "d.mp4", "frames": "frames"}

    monkeypatch.setattr(jobs, "_render_outputs", fake_outputs)
    scene = _saved_scene(tmp_path)
    assert main(["render", str(scene), "--device", "cpu", "--out", str(tmp_path / "r")]) == 0
    assert used == [(48, 96, 1.0, 50.0, 20.0)] == [(*jobs.default_video(torch.device("cpu")), 1.0, 50.0, 20.0)]
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert (record["settings"]["frames"], record["settings"]["size"]) == (48, 96)
    parsed = cli.build_parser().parse_args(["render", str(scene)])
    assert (parsed.frames, parsed.size, parsed.device) == (None, None, "auto")  # the device decides
    assert main(["render", str(scene), "--frames", "5", "--size", "20", "--out", str(tmp_path / "s")]) == 0
    assert used[-1][:2] == (5, 20)


def test_default_video_sizes():
    assert jobs.default_video(torch.device("cpu")) == (48, 96)
    assert jobs.default_video(torch.device("cuda")) == (120, 256)
