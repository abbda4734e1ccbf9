"""The ``zeronvs`` command. Subcommands (views, orbit, render, convert, info, eval) arrive with
the issues that build them; today it answers ``--help`` and ``--version``."""

from __future__ import annotations

import argparse

from . import __version__

__all__ = ["build_parser", "main"]


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``zeronvs`` with ``argv`` (the process arguments when None); returns the exit status."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
