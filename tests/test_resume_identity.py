"""Issue 24 case 5: a distillation resumes only with the photo (by its pixels) and the model (by its weights)
it was interrupted with; ``zeronvs orbit --resume`` compares the photo's content, not its path, before
the model is loaded."""

import copy
import json
import shutil

import pytest
import torch
from PIL import Image

import zeronvs_core.model
from zeronvs_core.cli import main
from zeronvs_core.distill import CHECKPOINT_NAME, PRESETS, distill, with_steps
from zeronvs_core.fingerprint import file_sha256, photo_sha256, weights_sha256
from zeronvs_core.images import read_image

EXAMPLE = "demo/object.png"
CAMERA = (53.26, 17.9, 0.74)  # fov, elevation, scale
CONFIG = with_steps(PRESETS["cpu_smoke"], 4, render_sizes=(8, 8))  # stopped after 3: a resume is one step


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return read_image(EXAMPLE)[..., :96, :96]


@pytest.fixture(scope="module")
def stopped(tiny_model, photo, tmp_path_factory):
    """A checkpoint folder of ``distill(photo)`` stopped after step 3 of 4."""
    folder = tmp_path_factory.mktemp("stopped")

    class Stop(Exception):
        pass

    def stop_at_three(step, total, preview=None):
        if step == 3:
            raise Stop

    with pytest.raises(Stop):
        distill(tiny_model, photo, *CAMERA, CONFIG, checkpoint_dir=folder, callback=stop_at_three)
    assert torch.load(folder / CHECKPOINT_NAME, weights_only=True)["step"] == 3
    return folder


def _resume(model, image, stopped, tmp_path):
    folder = shutil.copytree(stopped, tmp_path / "checkpoint")
    return distill(model, image, *CAMERA, CONFIG, checkpoint_dir=folder, resume=True)


def test_the_checkpoint_records_the_photo_and_model_hashes(tiny_model, photo, stopped):
    state = torch.load(stopped / CHECKPOINT_NAME, weights_only=True)
    assert state["format"] == "zeronvs-distill-2" and state["step"] == 3
    assert json.loads(state["fingerprints"]) == {
        "photo_sha256": photo_sha256(photo),
        "model_sha256": weights_sha256(tiny_model),
    }


def test_resuming_with_another_photo_is_refused(tiny_model, photo, stopped, tmp_path):
    other = photo.clone()
    other[0, :, 0, 0] = 1.0 - other[0, :, 0, 0]  # one pixel changed
    with pytest.raises(ValueError, match=r"was written for another photo \(its pixels differ\)"):
        _resume(tiny_model, other, stopped, tmp_path)
    state = torch.load(tmp_path / "checkpoint" / CHECKPOINT_NAME, weights_only=True)
    assert state["step"] == 3  # the refused resume left the checkpoint alone


def test_resuming_with_another_model_is_refused(tiny_model, photo, stopped, tmp_path):
    other = copy.deepcopy(tiny_model)
    with torch.no_grad():
        other.cc_projection.bias[0] += 1e-3  # one weight changed
    with pytest.raises(ValueError, match=r"was written for another model \(its weights differ\)") as error:
        _resume(other, photo, stopped, tmp_path)
    assert f"{weights_sha256(tiny_model)[:12]}... then, {weights_sha256(other)[:12]}... now" in str(error.value)


def test_the_same_photo_resumes_from_step_3_to_the_end(tiny_model, photo, stopped, tmp_path):
    result = _resume(tiny_model, photo, stopped, tmp_path)
    assert (result.start_step, result.step) == (3, 4)


def test_an_opaque_rgba_copy_is_the_same_photo(tiny_model, photo, stopped, tmp_path):
    rgba = torch.cat([photo, torch.ones_like(photo[:, :1])], dim=1)
    assert photo_sha256(rgba) == photo_sha256(photo)
    result = _resume(tiny_model, rgba, stopped, tmp_path)
    assert (result.start_step, result.step) == (3, 4)


def test_a_translucent_copy_is_another_photo(photo):
    rgba = torch.cat([photo, torch.full_like(photo[:, :1], 0.5)], dim=1)
    assert photo_sha256(rgba) != photo_sha256(photo)


def test_orbit_resume_after_the_photo_was_overwritten_is_one_line(tmp_path, monkeypatch, capsys):
    """The interrupted run here stopped while loading (Ctrl-C), which leaves the run.json that --resume reads."""
    image = tmp_path / "photo.png"
    shutil.copyfile(EXAMPLE, image)
    out = tmp_path / "out"
    args = ["orbit", str(image), "--steps", "3", "--device", "cpu", "--out", str(out)]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def heavy(*args, **kwargs):
        raise AssertionError("heavy work")

    monkeypatch.setattr(zeronvs_core.model, "load_zeronvs", interrupted)
    assert main(args) == 130
    capsys.readouterr()
    before = json.loads((out / "run.json").read_text())
    assert before["status"] == "interrupted during load"
    assert before["inputs"]["image_sha256"] == file_sha256(image)

    Image.open(EXAMPLE).convert("RGB").rotate(90).save(image)  # same path, other content
    monkeypatch.setattr(zeronvs_core.model, "load_zeronvs", heavy)
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"zeronvs: error: --resume: {image} is not the photo of the interrupted run")
    assert f"its sha256 is {file_sha256(image)[:12]}..., the run's was {before['inputs']['image_sha256'][:12]}" in err
    assert json.loads((out / "run.json").read_text()) == before  # the refused resume changed nothing

    shutil.copyfile(EXAMPLE, image)  # the photo back: the resume goes on to load the model
    with pytest.raises(AssertionError, match="heavy work"):
        main([*args, "--resume"])
