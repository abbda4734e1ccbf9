"""The embedded demo model ``zeronvs-mini``: a small ZeroNVS trained on procedural scenes by
``training/train.py`` and shipped inside the package, so that everything runs with no download.
Its model card is ``weights/zeronvs-mini.md``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_MODEL_NAME", "demo_model_path", "resolve_model_path"]

DEMO_MODEL_NAME = "zeronvs-mini"
_DEMO_FILE = Path(__file__).parent / "weights" / f"{DEMO_MODEL_NAME}.safetensors"


def demo_model_path() -> Path:
    """Path of the embedded demo model's ``.safetensors`` file (the project's format)."""
    if not _DEMO_FILE.is_file():
        raise FileNotFoundError(
            f"the embedded demo model {_DEMO_FILE} is missing from this installation; reinstall the "
            "package or pass the path of a checkpoint"
        )
    return _DEMO_FILE


def resolve_model_path(model: str | Path | None) -> Path:
    """The checkpoint a user means: the demo model for None or ``"zeronvs-mini"``, otherwise ``model``,
    which must be an existing file.

    Raises:
        IsADirectoryError: ``model`` is a folder.
        FileNotFoundError: nothing exists at ``model``.
    """
    if model is None or str(model) == DEMO_MODEL_NAME:
        return demo_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"model file {path} is a folder; give the checkpoint file in it")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist (or pass {DEMO_MODEL_NAME!r} for the demo model)")
    return path
