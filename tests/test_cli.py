"""``zeronvs convert``: official checkpoint to the project's format, and one-line errors."""

import ast
import re
from pathlib import Path

import pytest
import torch

import zeronvs_core
from zeronvs_core.cli import error_line, main
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


_COMMAND_MODULES = {"cli.py", "mesh_cli.py", "eval_cli.py"}
_FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _raised_texts(path: Path) -> list[tuple[int, str]]:
    """Every string written inside a ``raise`` statement of ``path`` (f-string parts included)."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise):
            for part in ast.walk(node):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    texts.append((node.lineno, part.value))
    return texts


def test_library_errors_name_arguments_not_flags():
    """Flags are the command's: the library's error texts name its arguments (``resume=True``,
    ``the config argument``) and ``cli.error_line`` says them as flags."""
    library = Path(zeronvs_core.__file__).parent
    found = [
        f"{path.relative_to(library)}:{line}: {text!r}"
        for path in sorted(library.rglob("*.py"))
        if path.name not in _COMMAND_MODULES
        for line, text in _raised_texts(path)
        if _FLAG.search(text)
    ]
    assert _raised_texts(library / "run_record.py"), "the scan must see raise statements"
    assert found == []


def test_error_line_says_the_commands_flags():
    flags = {"fov_deg": "--fov", "resume=True": "--resume", "the config argument": "--config"}
    error = ValueError("resume=True: fov_deg differs;\n input_fov_deg and fov_degrees stay; pass the config argument")
    assert error_line(error, flags) == "--resume: --fov differs; input_fov_deg and fov_degrees stay; pass --config"
    assert (
        error_line(error)
        == "resume=True: fov_deg differs; input_fov_deg and fov_degrees stay; pass the config argument"
    )
