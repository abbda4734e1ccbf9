"""``zeronvs eval``: the DTU and Mip-NeRF 360 single-view protocols from the command line.

Only ``argparse`` is imported here, so that building the ``zeronvs`` parser stays light; the work is
``evaluation.evaluate``.
"""

from __future__ import annotations

import argparse

__all__ = ["EVAL_DESCRIPTION", "EVAL_HELP", "add_eval_arguments", "run_eval"]

EVAL_HELP = "score the model on the DTU or Mip-NeRF 360 single-view protocol"
EVAL_DESCRIPTION = (
    "Per scene: distil the protocol's input view with the scene's settings, render the scored views at "
    "their ground-truth cameras and score PSNR, SSIM and (with --lpips-vgg and --lpips-lin) LPIPS. Writes "
    "OUT/<scene>/metrics.json and OUT/summary.json and prints the results beside the official ones. "
    "Running the same command again skips finished scenes and resumes an interrupted one."
)
_DATASETS = ("dtu", "mipnerf360")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``zeronvs eval`` options to ``parser``."""
    parser.add_argument("--dataset", required=True, choices=_DATASETS, help="which protocol")
    parser.add_argument(
        "--root",
        required=True,
        help="dataset folder: the one holding scanN/ (rs_dtu_4/DTU) or the Mip-NeRF 360 scene folders",
    )
    parser.add_argument(
        "--model", required=True, help="checkpoint (official zeronvs.ckpt or the project's .safetensors)"
    )
    parser.add_argument("--config", default=None, help="LDM yaml when the architecture is not the released one")
    parser.add_argument("--out", default=None, help="output folder (default eval_outputs/DATASET)")
    parser.add_argument("--preset", default="official", help="distillation recipe (default official, the paper's)")
    parser.add_argument(
        "--steps", type=int, default=None, help="distillation steps; the preset's schedules are scaled to fit"
    )
    parser.add_argument("--scenes", nargs="+", default=None, help="scenes to run (default: all of the protocol's)")
    parser.add_argument("--lpips-vgg", default=None, help="VGG16 weights in torchvision's layout (vgg16-397923af.pth)")
    parser.add_argument("--lpips-lin", default=None, help="LPIPS linear layers (the lpips package's v0.1/vgg.pth)")
    parser.add_argument(
        "--eval-size",
        type=int,
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        default=None,
        help="score at this size instead of the protocol's (numbers then differ from the official ones)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")


def run_eval(args: argparse.Namespace) -> int:
    """Run ``zeronvs eval`` with parsed ``args``; prints the table and returns 0. Errors raise
    ``ValueError`` or ``FileNotFoundError`` for ``zeronvs`` to print."""
    from .distill import preset as distill_preset
    from .evaluation import SUMMARY_NAME, evaluate, format_table
    from .jobs import choose_device
    from .progress import TqdmCallback

    preset = distill_preset(args.preset, args.steps)
    out = args.out if args.out is not None else f"eval_outputs/{args.dataset}"
    summary = evaluate(
        args.dataset,
        args.root,
        args.model,
        out,
        preset,
        args.scenes,
        model_config=args.config,
        device=choose_device(args.device),
        lpips_vgg=args.lpips_vgg,
        lpips_lin=args.lpips_lin,
        eval_size=args.eval_size,
        progress=lambda description: TqdmCallback(description, leave=False),
    )
    print(format_table(summary))
    print(f"wrote {out}/{SUMMARY_NAME}")
    return 0
