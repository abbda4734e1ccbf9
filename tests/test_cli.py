"""``zeronvs convert``: official checkpoint to the project's format, and one-line errors."""

import pytest
import torch

from zeronvs_core.cli import main
from zeronvs_core.model import load_zeronvs


def test_convert_writes_a_loadable_half_precision_file(tiny_files, tiny_model, tmp_path, capsys):
    weights, config = tiny_files
    dst = tmp_path / "out" / "tiny.safetensors"
    assert main(["convert", str(weights), str(dst), "--config", str(config)]) == 0
    assert f"wrote {dst}" in capsys.readouterr().out
    loaded = load_zeronvs(dst)
    assert loaded.config == tiny_model.config
    expected = tiny_model.cc_projection.weight.half().float()
    assert torch.equal(loaded.cc_projection.weight, expected)


def test_convert_float32_is_exact(tiny_files, tiny_model, tmp_path):
    weights, config = tiny_files
    dst = tmp_path / "tiny32.safetensors"
    assert main(["convert", str(weights), str(dst), "--config", str(config), "--dtype", "float32"]) == 0
    assert torch.equal(load_zeronvs(dst).unet.conv_in.weight, tiny_model.unet.conv_in.weight)


def test_convert_errors_are_one_line(tiny_files, tmp_path, capsys):
    weights, config = tiny_files
    assert main(["convert", str(tmp_path / "missing.ckpt"), str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronvs: error: no weight file at") and err.count("\n") == 1
    assert main(["convert", str(weights), str(tmp_path / "x.bin"), "--config", str(config)]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
    assert main(["convert", str(weights), str(tmp_path / "x.safetensors")]) == 2  # released config: mismatch
    err = capsys.readouterr().err
    assert "not the released ZeroNVS architecture" in err and "--config" in err and err.count("\n") == 1


@pytest.mark.parametrize("budget", ["-1", "0", "lots"])
def test_a_bad_memory_budget_is_one_line(budget, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["orbit", "photo.png", "--memory-budget-gib", budget])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert f"--memory-budget-gib: expected 'auto', 'none' or a positive number of GiB, got '{budget}'" in err
