"""The output folder of one ``zeronvs`` job and its ``run.json``: settings, input hashes, phase timings,
outputs, and how the run ended.

``run.json`` says ``"status"``: ``"running"`` while the job runs, then ``"done"``, ``"interrupted during
PHASE"`` (Ctrl-C; ``--resume`` continues) or ``"failed"`` with ``"error"`` (the message) and
``"failed_during"`` (the phase). A resumed run has ``"resumed"``: the step it continued from (``null``
until the distillation has resumed) and the status and seconds of every interrupted part before it.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from . import __version__

__all__ = ["RUN_FILE", "RunRecord", "check_output_folder", "plain"]

RUN_FILE = "run.json"


def check_output_folder(out) -> Path:
    """``out`` as a ``Path`` when it is a folder or can be made one; otherwise ``NotADirectoryError``
    naming the file in the way (``out`` itself or a folder above it that is a file)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output folder {out} is an existing file, not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"output folder {out} cannot be made: {parent} is a file, not a folder")
            break
    return out


class RunRecord:
    """``run.json`` of one job, used as ``with RunRecord(...) as run:``; leaving the block by an exception
    records it (``"failed"`` or ``"interrupted during PHASE"``) and lets it through.

    Args:
        out: the output folder (made if missing).
        command: the job's name (``views``, ``orbit``, ``render``).
        settings: what the user chose (made JSON-ready by ``plain``).
        inputs: content hashes of the inputs (``{"image_sha256": ...}``); more may be added to
            ``record["inputs"]`` later (the model's, once loaded).
        resume: continue the run recorded in ``out``: its settings and inputs must be these.

    Raises:
        NotADirectoryError: ``out`` cannot be a folder (``check_output_folder``).
        PermissionError, OSError: ``out`` cannot be made or written (the message names the path).
        ValueError: on ``resume``, other settings or another photo than the interrupted run's.
    """

    def __init__(self, out, command: str, settings: dict, inputs: dict | None = None, resume: bool = False):
        self.out = check_output_folder(out)
        self.record = {"command": command, "settings": plain(settings), "inputs": dict(inputs or {}), "seconds": {}}
        self.previous = self._previous() if resume else None
        if self.previous is not None:
            self._check_same_run(self.previous)
            self.record["resumed"] = {"from_step": None, "interrupted_parts": _parts(self.previous)}
        self.current_phase = "setup"
        self.start = time.perf_counter()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self._write({"status": "running"})
        except OSError as error:
            raise type(error)(f"cannot write to output folder {self.out}: {error.strerror or error}") from error

    def __enter__(self) -> RunRecord:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is None:
            return
        self.record["seconds"]["total"] = round(time.perf_counter() - self.start, 3)
        if isinstance(error, KeyboardInterrupt):
            ending = {"status": f"interrupted during {self.current_phase}"}
        else:
            ending = {"status": "failed", "failed_during": self.current_phase, "error": _one_line(error)}
        try:
            self._write(ending)
        except OSError:
            pass  # the folder went away or became unwritable: the original error is the one to report

    def phase(self, name: str, function):
        """Run ``function()`` as phase ``name``; its seconds go to ``record["seconds"][name]``."""
        self.current_phase = name
        start = time.perf_counter()
        try:
            return function()
        finally:
            self.record["seconds"][name] = round(time.perf_counter() - start, 3)

    def resumed_from(self, step: int) -> None:
        """Record that this run continued an interrupted one from ``step``. The status and seconds of each
        interrupted part before it (earliest first) are recorded from the start of a resumed run, so a
        resumed run interrupted again keeps them (with ``"from_step": null``) for the next resume."""
        parts = _parts(self.previous or {}) if self.previous is not None else []
        self.record["resumed"] = {"from_step": step, "interrupted_parts": parts}

    def finish(self, outputs: dict, model=None) -> dict:
        """Record ``outputs`` and ``"status": "done"``; returns the record."""
        self.record["seconds"]["total"] = round(time.perf_counter() - self.start, 3)
        if model is not None:
            self.record["model"] = {"resolution": model.config.resolution, "camera_mode": model.config.camera_mode}
        return self._write({"status": "done", "outputs": plain(outputs)})

    def _previous(self) -> dict | None:
        path = self.out / RUN_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(
                f"resume=True: {path} is not a run record ({error.msg}); start afresh in another folder"
            ) from None

    def _check_same_run(self, previous: dict) -> None:
        before = previous.get("settings", {})
        changed = sorted(key for key, value in self.record["settings"].items() if before.get(key) != value)
        if changed:
            raise ValueError(f"resume=True needs the settings of the interrupted run; these differ: {changed}")
        then, now = previous.get("inputs", {}).get("image_sha256"), self.record["inputs"].get("image_sha256")
        if then != now:
            raise ValueError(
                f"resume=True: {before.get('image')} is not the photo of the interrupted run (its sha256 is "
                f"{str(now)[:12]}..., the run's was {str(then)[:12]}...); resume with that photo or start afresh"
            )

    def _write(self, extra: dict) -> dict:
        self.record.update(extra)
        self.record["environment"] = {
            "zeronvs": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        }
        (self.out / RUN_FILE).write_text(json.dumps(self.record, indent=2) + "\n")
        return self.record


def _parts(previous: dict) -> list[dict]:
    """The interrupted parts of the run recorded in ``previous`` (its own earlier parts, then itself)."""
    earlier = (previous.get("resumed") or {}).get("interrupted_parts", [])
    return [*earlier, {"status": previous.get("status"), "seconds": previous.get("seconds", {})}]


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def plain(value):
    """JSON-ready copy of settings: dataclasses as dicts, tuples as lists, paths (and the rest) as strings."""
    if dataclasses.is_dataclass(value):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
