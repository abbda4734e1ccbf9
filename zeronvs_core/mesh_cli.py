"""``zeronvs mesh``: a saved scene as a coloured mesh (GLB, PLY, OBJ) or, with ``--points``, a point cloud.

Only ``argparse`` is imported here, so that building the ``zeronvs`` parser stays light; the work is
``mesh.export_mesh`` and ``point_cloud.export_point_cloud`` (formats, axes, defaults: see ``zeronvs_core/mesh.py``).
"""

from __future__ import annotations

import argparse

from .mesh_options import DEFAULT_HALF_SIZE, DEFAULT_RESOLUTION, REGIONS

__all__ = ["MESH_DESCRIPTION", "MESH_HELP", "add_mesh_arguments", "run_mesh"]

MESH_HELP = "export a saved scene as a mesh (.glb, .ply, .obj) or a point cloud (.ply)"
MESH_DESCRIPTION = (
    "Marching cubes over the density of a scene saved by 'zeronvs orbit' (scene.safetensors) or by the "
    "ComfyUI Save Scene node, with vertex colours from the scene. GLB and OBJ are written y-up (world +z is "
    "file +y), PLY in the project's z-up world; units are world units (the input camera 1 from the origin). "
    "With --points: a coloured point cloud (.ply, z-up) of the rendered depth of orbit frames."
)


def add_mesh_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``zeronvs mesh`` options to ``parser``."""
    parser.add_argument("scene", help="scene file (scene.safetensors written by 'zeronvs orbit' or Save Scene)")
    parser.add_argument("--out", required=True, help="output file: .glb, .ply or .obj (.ply only with --points)")
    parser.add_argument(
        "--resolution",
        type=int,
        default=DEFAULT_RESOLUTION,
        help=f"marching-cubes grid points per axis, >= 2 (default {DEFAULT_RESOLUTION})",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="surface density per world unit (default: half opaque over one render step, 22.2 for the "
        "official render settings)",
    )
    parser.add_argument(
        "--region",
        choices=REGIONS,
        default="foreground",
        help="foreground: the cube around the input camera's look-at point (default); scene: all of it, "
        "background included",
    )
    parser.add_argument(
        "--half-size",
        type=float,
        default=DEFAULT_HALF_SIZE,
        help=f"half-side of the foreground cube, world units (default {DEFAULT_HALF_SIZE})",
    )
    parser.add_argument(
        "--points", action="store_true", help="write a point cloud of rendered orbit depth instead of a mesh"
    )
    parser.add_argument("--frames", type=int, default=24, help="orbit frames for --points (default 24)")
    parser.add_argument("--size", type=int, default=128, help="frame size for --points, pixels (default 128)")
    parser.add_argument(
        "--min-opacity", type=float, default=0.5, help="pixels kept by --points: opacity at least this (default 0.5)"
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")


def run_mesh(args: argparse.Namespace) -> int:
    """Run ``zeronvs mesh`` with parsed ``args``; prints what was written and returns 0. Errors raise
    ``ValueError`` or ``FileNotFoundError`` (no file is written then) for ``zeronvs`` to print. Progress bars
    show on a terminal only and are cleared when done, so an error is the one line left."""
    from .jobs import choose_device
    from .mesh import export_mesh
    from .progress import TqdmCallback
    from .render import load_scene

    if args.points:
        _check_points_options(args)
    elif args.resolution < 2:
        raise ValueError(f"--resolution must be >= 2 (grid points per axis), got {args.resolution}")
    scene, settings = load_scene(args.scene, device=choose_device(args.device))
    if args.points:
        return _points(args, scene, settings)
    with TqdmCallback("density grid", unit="slab", dynamic_ncols=True, disable=None, leave=False) as callback:
        stats = export_mesh(
            scene,
            args.out,
            resolution=args.resolution,
            threshold=args.threshold,
            region=args.region,
            half_size=args.half_size,
            settings=settings,
            callback=callback,
        )
    low, high = stats.bounds
    print(
        f"wrote {stats.path}: {stats.vertices} vertices, {stats.faces} faces at density {stats.threshold:.4g} "
        f"(grid {stats.resolution}^3 over the {stats.region}, densities {stats.density_range[0]:.4g} to "
        f"{stats.density_range[1]:.4g}); z-up bounds {_triple(low)} to {_triple(high)}"
    )
    return 0


def _check_points_options(args: argparse.Namespace) -> None:
    if not args.out.lower().endswith(".ply"):
        raise ValueError(f"--points writes a .ply point cloud, got --out {args.out}")
    if args.frames < 1 or args.size < 1:
        raise ValueError(f"--frames and --size must be positive, got {args.frames} and {args.size}")


def _points(args: argparse.Namespace, scene, settings) -> int:
    from .cameras import orbit_path
    from .point_cloud import export_point_cloud
    from .progress import TqdmCallback
    from .render import render_path

    if settings.fov_deg is None or settings.elevation_deg is None:
        raise ValueError(f"{args.scene} does not record its input camera, which --points orbits around")
    c2w = orbit_path(args.frames, settings.elevation_deg)
    with TqdmCallback("orbit frames", unit="frame", dynamic_ncols=True, disable=None, leave=False) as callback:
        frames = render_path(scene, c2w, settings.fov_deg, args.size, settings, callback)
    stats = export_point_cloud(frames, c2w, settings.fov_deg, args.out, min_opacity=args.min_opacity)
    low, high = stats.bounds
    print(f"wrote {stats.path}: {stats.points} points; z-up bounds {_triple(low)} to {_triple(high)}")
    return 0


def _triple(values) -> str:
    return "(" + ", ".join(f"{value:.3g}" for value in values) + ")"
