"""Mesh export of a distilled scene: time, size and file sizes per grid resolution; a picture of the mesh.

For each ``--resolution`` the isosurface of the default foreground region and threshold is extracted once
(``mesh.extract_isosurface``: density grid + marching cubes + vertex colours; what ``export_mesh`` does before
writing) and written as GLB, PLY and OBJ (``mesh.write_mesh``), each timed. ``--points`` also renders an orbit
and writes its point cloud. ``--picture`` draws the mesh of the last resolution from three sides of the
input elevation, top row its vertex colours as stored, bottom row its shape (grey, lit by its normals), as an
orthographic splat of points sampled on the triangles (no GL context needed):

    python benchmarks/bench_mesh.py outputs/orbit/field.safetensors --picture docs/images/mesh_demo.png
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from zeronvs_core.cameras import orbit_path
from zeronvs_core.mesh import extract_isosurface, half_opaque_density, write_mesh
from zeronvs_core.point_cloud import export_point_cloud
from zeronvs_core.render import load_scene, render_orbit


def splat(vertices, faces, colors, view_c2w, size=256, samples=400_000, seed=0):
    """Orthographic pictures ``[size, size, 3]`` of a coloured mesh seen along the camera's -z axis, its
    bounding sphere filling the frame (the same scale from every side), colours and grey shape:
    points sampled uniformly on the triangles (colours interpolated, face normals), each drawn as
    3 x 3 pixels, the nearest one per pixel."""
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    points, face_index = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    barycentric = trimesh.triangles.points_to_barycentric(mesh.triangles[face_index], points)
    point_colors = (colors[faces[face_index]] * barycentric[:, :, None]).sum(axis=1)
    normals = mesh.face_normals[face_index]
    rotation = view_c2w[:3, :3].T  # world -> camera axes (x right, y up, z towards the viewer)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    camera = (points - (low + high) / 2) @ rotation.T
    scale = (size - 8) / np.linalg.norm(high - low)
    # Each point covers 3 x 3 pixels, so the far side does not show through gaps between samples.
    offsets = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    column = (camera[:, 0] * scale + size / 2).astype(int)[:, None] + offsets[:, 1]
    row = (size / 2 - camera[:, 1] * scale).astype(int)[:, None] + offsets[:, 0]
    pixel = (np.clip(row, 0, size - 1) * size + np.clip(column, 0, size - 1)).reshape(-1)
    camera, normals, point_colors = (np.repeat(a, len(offsets), axis=0) for a in (camera, normals, point_colors))
    order = np.lexsort((-camera[:, 2], pixel))  # per pixel, the point nearest the viewer first
    first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    light = np.abs(normals[first] @ rotation.T @ np.array([0.3, 0.5, 0.81]))
    shaded = (0.25 + 0.75 * light)[:, None] * np.array([0.8, 0.8, 0.8])
    pictures = []
    for values in (point_colors[first], shaded):
        image = np.ones((size * size, 3))
        image[pixel[first]] = values
        pictures.append(image.reshape(size, size, 3))
    return pictures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scene", help="a scene file (render.save_scene), e.g. outputs/orbit/field.safetensors")
    parser.add_argument("--resolution", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--out", default="outputs/mesh_bench", help="folder for the meshes")
    parser.add_argument("--points", action="store_true", help="also render 48 orbit frames and their point cloud")
    parser.add_argument("--picture", help="PNG of the last resolution's mesh")
    args = parser.parse_args()

    scene, settings = load_scene(args.scene)
    threshold = half_opaque_density(settings)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.scene}, threshold {threshold:.3g}")
    print("| grid | extract: wall, CPU (s) | vertices | faces | GLB (s, MB) | PLY (s, MB) | OBJ (s, MB) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    out = Path(args.out)
    for resolution in args.resolution:
        start, cpu = time.perf_counter(), time.process_time()
        surface, _ = extract_isosurface(
            scene.field.density, lambda p: scene.field(p)[1], resolution, threshold, contraction_radius=2.0
        )
        seconds = f"{time.perf_counter() - start:.1f}, {time.process_time() - cpu:.1f}"
        cells = [f"{resolution}^3", seconds, f"{len(surface.vertices):,}"]
        cells.append(f"{len(surface.faces):,}")
        for suffix in (".glb", ".ply", ".obj"):
            start = time.perf_counter()
            path = write_mesh(surface, out / f"mesh_{resolution}{suffix}")
            cells.append(f"{time.perf_counter() - start:.2f}, {path.stat().st_size / 1e6:.1f}")
        print("| " + " | ".join(cells) + " |")
    if args.points:
        elevation, fov = settings.elevation_deg, settings.fov_deg
        start = time.perf_counter()
        frames = render_orbit(scene, elevation, fov, n_views=48, size=96, settings=settings)
        stats = export_point_cloud(frames, orbit_path(48, elevation, 1.0), fov, out / "points.ply")
        size_mb = stats.path.stat().st_size / 1e6
        print(
            f"point cloud: 48 frames of 96^2, {stats.points:,} points, {size_mb:.1f} MB, "
            f"{time.perf_counter() - start:.1f} s (render included)"
        )
    if args.picture:
        from PIL import Image

        views = orbit_path(3, settings.elevation_deg or 0.0, 1.0).numpy()  # azimuth 0 (input), 120, 240
        rows = [[], []]
        for view in views:
            colors, shape = splat(surface.vertices, surface.faces, surface.colors, view)
            rows[0].append(colors)
            rows[1].append(shape)
        picture = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
        Image.fromarray((picture * 255).round().astype(np.uint8)).save(args.picture, optimize=True)
        print(f"picture: {args.picture}")


if __name__ == "__main__":
    main()
