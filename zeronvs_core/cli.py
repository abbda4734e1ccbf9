"""The ``zeronvs`` command: ``views``, ``orbit``, ``render``, ``mesh``, ``convert``, ``info`` and ``eval``.

Argument parsing, progress bars and error printing live here; the work is done by ``jobs.py`` and the
library, which check every argument and input before any heavy work (loading a model, distilling).
The command builds the jobs' camera value (``camera_set.CameraSet``) from ``--fov`` and ``--elevation``.
Bad arguments, unusable files and any ``OSError`` on inputs or outputs print one ``zeronvs: error:``
line naming the path and exit with status 2; the library's errors name its arguments (``fov_deg``),
which the line says as the command's flags (``--fov``). Ctrl-C exits with 130 after leaving a checkpoint
that ``--resume`` continues."""

from __future__ import annotations

import argparse
import re
import sys
import time

from . import __version__
from .eval_cli import EVAL_DESCRIPTION, EVAL_HELP, add_eval_arguments, run_eval
from .mesh_cli import MESH_DESCRIPTION, MESH_HELP, add_mesh_arguments, run_mesh
from .wild_defaults import ELEVATION_DEG, FOV_DEG, SCALE

__all__ = ["build_parser", "cameras_from_args", "error_line", "main"]

_DTYPE_NAMES = ("float16", "float32")
_CAMERA_FLAGS = {"fov_deg": "--fov", "elevation_deg": "--elevation"}
_COUNT_FLAGS = {f"{name} must": f"--{name} must" for name in ("frames", "size", "steps")}
_FLAGS = {
    "views": {**_CAMERA_FLAGS, **_COUNT_FLAGS},
    "orbit": {**_CAMERA_FLAGS, **_COUNT_FLAGS, "anchor_count": "--anchors", "resume=True": "--resume"},
    "render": {**_CAMERA_FLAGS, **_COUNT_FLAGS, "distance must": "--distance must"},
    "convert": {"the config argument": "--config"},
    "info": {"the config argument": "--config"},
    "eval": {"the config argument": "--config"},
    "mesh": {"min_opacity": "--min-opacity", "half_size": "--half-size"},
}
"""Per command, the words of the library's error texts that are the command's flags."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``zeronvs``."""
    parser = argparse.ArgumentParser(
        prog="zeronvs",
        description=(
            "ZeroNVS: zero-shot 360-degree novel view synthesis of whole scenes from one photo. "
            "Cameras are OpenGL camera-to-world matrices in a z-up world (see README.md)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"zeronvs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    convert = commands.add_parser(
        "convert",
        help="convert a checkpoint to the project's own format",
        description=(
            "Read an official ZeroNVS checkpoint (zeronvs.ckpt, or .safetensors with the same keys; EMA "
            "UNet weights are used) or a file in the project's format, and write it as one .safetensors "
            "file with its config in the header."
        ),
    )
    convert.add_argument("src", help="source checkpoint (.ckpt or .safetensors)")
    convert.add_argument("dst", help="destination, ending in .safetensors")
    convert.add_argument(
        "--config", default=None, help="LDM yaml of the source when it is not the released architecture"
    )
    convert.add_argument(
        "--dtype", choices=_DTYPE_NAMES, default="float16", help="weight precision of the output (default float16)"
    )
    convert.add_argument(
        "--comfyui",
        action="store_true",
        help="instead, write the official checkpoint with its EMA UNet for ComfyUI's CheckpointLoaderSimple",
    )
    _add_job_parsers(commands)
    add_eval_arguments(commands.add_parser("eval", help=EVAL_HELP, description=EVAL_DESCRIPTION))
    add_mesh_arguments(commands.add_parser("mesh", help=MESH_HELP, description=MESH_DESCRIPTION))
    return parser


def _add_job_parsers(commands) -> None:
    from .model.demo import DEMO_MODEL_NAME

    def model_argument(parser):
        parser.add_argument(
            "--model",
            default=None,
            help=f"checkpoint (official zeronvs.ckpt or the project's .safetensors); default: the embedded "
            f"demo model {DEMO_MODEL_NAME}",
        )

    def camera_arguments(parser):
        parser.add_argument(
            "--fov", type=float, default=FOV_DEG, help="vertical FOV of the photo's centred square crop, degrees"
        )
        parser.add_argument(
            "--elevation", type=float, default=ELEVATION_DEG, help="camera elevation above the ground plane, degrees"
        )
        parser.add_argument(
            "--scale",
            type=float,
            default=SCALE,
            help="viewer scale: distance of the scene, model units (0.7 in the wild)",
        )

    def common_arguments(parser, seed=True):
        if seed:
            parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")

    views = commands.add_parser(
        "views",
        help="novel views of a photo, sampled directly from the diffusion model",
        description="DDIM novel views at azimuths evenly spaced over a full turn (view 0 = the input camera).",
    )
    views.add_argument("image", help="input photo (PNG, JPEG, ...)")
    model_argument(views)
    camera_arguments(views)
    views.add_argument("--count", type=int, default=8, help="number of views (default 8)")
    views.add_argument("--steps", type=int, default=50, help="DDIM steps (default 50)")
    views.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale (default 3)")
    views.add_argument("--eta", type=float, default=1.0, help="DDIM eta (default 1)")
    views.add_argument("--out", default="outputs/views", help="output folder (default outputs/views)")
    common_arguments(views)

    orbit = commands.add_parser(
        "orbit",
        help="the whole pipeline: SDS distillation of a 3D scene, orbit and depth videos",
        description=(
            "Distil the model's novel views of a photo into a 3D scene (OUT/scene.safetensors, optionally "
            "anchored), then render an orbit video and a depth video around it. Ctrl-C leaves a checkpoint; "
            "--resume continues it."
        ),
    )
    orbit.add_argument("image", help="input photo (PNG, JPEG, ...)")
    model_argument(orbit)
    camera_arguments(orbit)
    orbit.add_argument("--preset", default=None, help="distillation recipe (default: fast on a GPU, cpu_smoke on CPU)")
    orbit.add_argument("--steps", type=int, default=None, help="distillation steps (default: the preset's)")
    orbit.add_argument("--anchors", type=int, default=0, help="number of SDS anchor views (default 0: off)")
    orbit.add_argument("--frames", type=int, default=None, help="orbit frames (default 120 on GPU, 48 on CPU)")
    orbit.add_argument("--size", type=int, default=None, help="frame size, pixels (default 256 on GPU, 96 on CPU)")
    orbit.add_argument(
        "--memory-budget-gib",
        type=_memory_budget,
        default="auto",
        help="GiB for a distillation step's graph; larger steps back-propagate over ray chunks "
        "('auto': 80%% of free GPU memory, single pass on CPU; 'none': always single pass)",
    )
    orbit.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    orbit.add_argument("--out", default="outputs/orbit", help="output folder (default outputs/orbit)")
    common_arguments(orbit)

    render = commands.add_parser(
        "render",
        help="re-render a saved scene along a new orbit",
        description="Render a scene.safetensors written by 'zeronvs orbit' along an orbit of your choice.",
    )
    render.add_argument("scene", help="scene.safetensors written by 'zeronvs orbit' (or the ComfyUI Save Scene node)")
    render.add_argument("--fov", type=float, default=None, help="vertical FOV, degrees (default: the input's)")
    render.add_argument("--elevation", type=float, default=None, help="orbit elevation, degrees (default: the input's)")
    render.add_argument("--distance", type=float, default=1.0, help="orbit radius, input-camera units (default 1)")
    render.add_argument("--frames", type=int, default=None, help="number of frames (default 120 on GPU, 48 on CPU)")
    render.add_argument("--size", type=int, default=None, help="frame size, pixels (default 256 on GPU, 96 on CPU)")
    render.add_argument("--out", default="outputs/render", help="output folder (default outputs/render)")
    common_arguments(render, seed=False)

    info = commands.add_parser("info", help="describe a checkpoint: format, architecture, parameters")
    info.add_argument("model", nargs="?", default=None, help=f"checkpoint (default: {DEMO_MODEL_NAME})")
    info.add_argument("--config", default=None, help="LDM yaml when the architecture is not the released one")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")


def main(argv: list[str] | None = None) -> int:
    """Run ``zeronvs`` with ``argv`` (the process arguments when None); returns the exit status.
    Bad arguments and unusable files print one ``zeronvs: error:`` line and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handlers = {
        "convert": _convert,
        "views": _views,
        "orbit": _orbit,
        "render": _render,
        "info": _info,
        "eval": run_eval,
        "mesh": run_mesh,
    }
    try:
        return handlers[args.command](args)
    except (OSError, ValueError) as error:
        _close_bars()
        print(f"zeronvs: error: {error_line(error, _FLAGS.get(args.command))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _close_bars()
        hint = " (continue with --resume)" if args.command == "orbit" else ""
        print(f"zeronvs: interrupted{hint}", file=sys.stderr)
        return 130
    finally:
        _BARS.clear()


def error_line(error: Exception, flags: dict[str, str] | None = None) -> str:
    """One line for an error: an ``OSError`` from the system as ``PATH: reason`` (``PATH -> PATH2`` when it
    has two), any other error as its message with line breaks folded and each whole word (or phrase) that
    is a key of ``flags`` said as its flag (``{"fov_deg": "--fov"}``: the library's argument names as the
    command's flags)."""
    if isinstance(error, OSError) and error.filename is not None:
        paths = str(error.filename) + (f" -> {error.filename2}" if error.filename2 is not None else "")
        return f"{paths}: {error.strerror or error}"
    line = " ".join(str(error).split())
    if not flags:
        return line
    words = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, flags)) + r")(?!\w)")
    return words.sub(lambda match: flags[match.group(1)], line)


def _convert(args: argparse.Namespace) -> int:
    import torch

    from .model import load_zeronvs, save_zeronvs
    from .model.loading import check_destination

    check_destination(args.dst)
    start = time.perf_counter()
    if args.comfyui:
        from .model.comfyui_checkpoint import save_comfyui_checkpoint

        path, used_ema = save_comfyui_checkpoint(args.src, args.dst, dtype=getattr(torch, args.dtype))
        unet = "EMA" if used_ema else "live (the file has no EMA)"
        print(f"wrote {path} for ComfyUI ({path.stat().st_size / 2**20:.1f} MiB, {args.dtype}, {unet} UNet weights)")
        return 0
    model = load_zeronvs(args.src, config=args.config)
    path = save_zeronvs(model, args.dst, dtype=getattr(torch, args.dtype))
    size_mb = path.stat().st_size / 2**20
    seconds = time.perf_counter() - start
    print(f"wrote {path} ({size_mb:.1f} MiB, {args.dtype}) in {seconds:.1f} s")
    return 0


_BARS: list = []
"""Progress bars opened by ``_progress``: closed before an error is printed, so it starts its own line."""


def _progress(description: str):
    from .progress import TqdmCallback

    callback = TqdmCallback(description, dynamic_ncols=True)
    _BARS.append(callback)
    return callback


def _close_bars() -> None:
    while _BARS:
        _BARS.pop().close()


def cameras_from_args(args: argparse.Namespace):
    """The jobs' camera value from ``--fov`` and ``--elevation``: for ``views`` the input camera and
    ``--count`` targets over a turn (``CameraSet.orbit``), for ``orbit`` the input camera alone."""
    from .camera_set import CameraSet

    if args.command == "views":
        return CameraSet.orbit(args.count, args.fov, args.elevation)
    return CameraSet(args.fov, args.elevation)


def _views(args: argparse.Namespace) -> int:
    from .jobs import novel_views

    record = novel_views(
        args.image,
        args.out,
        model=args.model,
        cameras=cameras_from_args(args),
        scale=args.scale,
        steps=args.steps,
        guidance_scale=args.guidance,
        eta=args.eta,
        seed=args.seed,
        device=args.device,
        progress=_progress,
    )
    print(f"novel views: {record['outputs']['grid']} and {len(record['outputs']['views'])} PNGs in {args.out}/views")
    return 0


def _orbit(args: argparse.Namespace) -> int:
    from .jobs import orbit

    record = orbit(
        args.image,
        args.out,
        model=args.model,
        cameras=cameras_from_args(args),
        scale=args.scale,
        preset=args.preset,
        steps=args.steps,
        anchor_count=args.anchors,
        seed=args.seed,
        memory_budget_gib=args.memory_budget_gib,
        frames=args.frames,
        size=args.size,
        resume=args.resume,
        device=args.device,
        progress=_progress,
    )
    outputs = record["outputs"]
    print(f"orbit video: {outputs['orbit']}\ndepth video: {outputs['depth']}\nscene: {outputs['scene']}")
    print(f"settings and timings: {args.out}/run.json ({record['seconds']['total']:.0f} s in all)")
    return 0


def _memory_budget(text: str) -> float | str | None:
    """``--memory-budget-gib``: ``auto``, ``none`` or a positive number of GiB."""
    if text.lower() in ("auto", "none"):
        return None if text.lower() == "none" else "auto"
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected 'auto', 'none' or a positive number of GiB, got {text!r}")
    return value


def _render(args: argparse.Namespace) -> int:
    from .jobs import render_scene

    record = render_scene(
        args.scene,
        args.out,
        fov_deg=args.fov,
        elevation_deg=args.elevation,
        distance=args.distance,
        frames=args.frames,
        size=args.size,
        device=args.device,
        progress=_progress,
    )
    print(f"orbit video: {record['outputs']['orbit']}\ndepth video: {record['outputs']['depth']}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import json

    from .model.info import describe_checkpoint

    description = describe_checkpoint(args.model, config=args.config)
    if args.json:
        print(json.dumps(description, indent=2))
    else:
        width = max(len(key) for key in description)
        for key, value in description.items():
            print(f"{key:<{width}}  {value}")
    return 0
