"""The ``zeronvs`` command. Today: ``zeronvs convert``; the other subcommands (views, orbit, render,
info, eval) arrive with the issues that build them."""

from __future__ import annotations

import argparse
import sys
import time

from . import __version__

__all__ = ["build_parser", "main"]

_DTYPE_NAMES = ("float16", "float32")


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``zeronvs`` with ``argv`` (the process arguments when None); returns the exit status.
    Bad arguments and unusable files print one ``zeronvs: error:`` line and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _convert(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"zeronvs: error: {error}", file=sys.stderr)
        return 2


def _convert(args: argparse.Namespace) -> int:
    import torch

    from .model import load_zeronvs, save_zeronvs

    start = time.perf_counter()
    model = load_zeronvs(args.src, config=args.config)
    path = save_zeronvs(model, args.dst, dtype=getattr(torch, args.dtype))
    size_mb = path.stat().st_size / 2**20
    seconds = time.perf_counter() - start
    print(f"wrote {path} ({size_mb:.1f} MiB, {args.dtype}) in {seconds:.1f} s")
    return 0
