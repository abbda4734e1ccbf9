"""Mesh and point-cloud export: analytic densities with known surfaces, file round trips with their axes,
point clouds of a rendered and of a constructed plane, and every bad input (one clear error, no file)."""

import json
import math
import struct

import numpy as np
import pytest
import torch
import trimesh
from torch import nn

from zeronvs_core.cameras import camera_rays, orbit_path
from zeronvs_core.mesh import Isosurface, export_mesh, extract_isosurface, half_opaque_density, write_mesh
from zeronvs_core.nerf.field import FieldConfig, GridConfig
from zeronvs_core.nerf.ray_sampling import RaySettings
from zeronvs_core.nerf.scene import Scene
from zeronvs_core.point_cloud import export_point_cloud, frames_to_points
from zeronvs_core.render import OrbitFrames, RenderSettings, render_path

SMALL = FieldConfig(grid=GridConfig(4, 2, 12, 4, 2.0), proposal_grid=GridConfig(2, 2, 10, 4, 2.0))
RED, BLUE = (0.9, 0.1, 0.2), (0.1, 0.3, 0.8)
THRESHOLD = math.log(2) / ((1 / 0.5 - 1 / 1000) / 64)  # the official render's half-opaque density, 22.2


class SphereField(nn.Module):
    """Density ``2 t sigmoid((radius - |p - centre|) / width)``: exactly ``t`` on the sphere; red where
    ``x > 0``, blue elsewhere (view-independent, as the real field's albedo)."""

    def __init__(self, radius, threshold=THRESHOLD, width=0.02, centre=(0.0, 0.0, 0.0)):
        super().__init__()
        self.radius, self.width = radius, width
        self.peak = nn.Parameter(torch.tensor(2.0 * threshold))  # a weight, so the scene has a device
        self.register_buffer("centre", torch.tensor(centre))

    def density(self, points):
        return self.peak * torch.sigmoid((self.radius - (points - self.centre).norm(dim=-1)) / self.width)

    def forward(self, points):
        return self.density(points), sphere_colors(points)


def sphere_colors(points):
    return torch.where(points[:, :1] > 0, torch.tensor(RED), torch.tensor(BLUE))


def sphere_scene(radius, threshold=THRESHOLD):
    scene = Scene(SMALL)
    scene.field = SphereField(radius, threshold)
    return scene


def check_sphere(vertices, radius, cell):
    """Vertices on the sphere: mean distance from the centre within half a cell, every one within a cell."""
    distance = np.linalg.norm(vertices, axis=1)
    assert abs(distance.mean() - radius) < cell / 2
    assert np.abs(distance - radius).max() < cell


def test_sphere_from_an_analytic_density_has_its_radius_colours_and_outward_faces():
    resolution, half_size, radius = 48, 0.5, 0.3
    cell = 2 * half_size / (resolution - 1)
    field = SphereField(radius)
    surface, density_range = extract_isosurface(
        field.density, sphere_colors, resolution, THRESHOLD, half_size=half_size
    )
    check_sphere(surface.vertices, radius, cell)
    assert density_range[0] == pytest.approx(0.0, abs=1e-3)
    assert density_range[1] == pytest.approx(2 * THRESHOLD, abs=1e-3)
    x = surface.vertices[:, 0]
    np.testing.assert_allclose(surface.colors[x > 0], np.broadcast_to(RED, (int((x > 0).sum()), 3)), atol=1e-6)
    np.testing.assert_allclose(surface.colors[x <= 0], np.broadcast_to(BLUE, (int((x <= 0).sum()), 3)), atol=1e-6)
    mesh = trimesh.Trimesh(surface.vertices, surface.faces, process=False)
    assert mesh.is_watertight
    # Positive signed volume: the faces wind counter-clockwise seen from outside (normals point out).
    assert mesh.volume == pytest.approx(4 / 3 * math.pi * radius**3, rel=0.02)
    outward = (mesh.face_normals * mesh.triangles_center).sum(axis=1)
    assert (outward > 0).all()


def test_export_mesh_of_a_scene_writes_its_sphere_and_reports_progress(tmp_path):
    resolution, radius = 40, 0.35
    steps = []
    stats = export_mesh(
        sphere_scene(radius),
        tmp_path / "sphere.ply",
        resolution=resolution,
        chunk_points=4000,
        callback=lambda step, total, preview=None: steps.append((step, total, preview)),
    )
    loaded = trimesh.load(stats.path, process=False)
    check_sphere(loaded.vertices, radius, 2 * 0.5 / (resolution - 1))
    assert (stats.vertices, stats.faces) == (len(loaded.vertices), len(loaded.faces))
    assert stats.region == "foreground" and stats.threshold == THRESHOLD and stats.resolution == resolution
    assert stats.bounds[1][2] == pytest.approx(radius, abs=0.02)
    red = loaded.vertices[:, 0] > 0
    assert np.abs(loaded.visual.vertex_colors[red, :3] - np.array(RED) * 255).max() <= 0.5
    # 40^3 points in slabs of 4000 // 40^2 = 2 x-planes: 20 chunks, then the surface and its colours.
    assert [s for s, _, _ in steps] == list(range(1, 22)) and {t for _, t, _ in steps} == {21}
    assert {p for _, _, p in steps} == {None}


def test_scene_region_maps_the_contracted_grid_back_to_world_units():
    # A sphere of radius 3 lies beyond the contraction radius 2: |y| = 2 - 2/3 in contracted units.
    resolution, radius, contraction = 64, 3.0, 2.0
    field = SphereField(radius, width=0.05)
    surface, _ = extract_isosurface(
        field.density, sphere_colors, resolution, THRESHOLD, region="scene", contraction_radius=contraction
    )
    # One grid cell (4 / (resolution - 1) contracted units) at |y| in world units: d|x|/d|y| = R / (2 - |y|)^2.
    y = 2 - contraction / radius
    world_cell = 4 / (resolution - 1) * contraction / (2 - y) ** 2
    check_sphere(surface.vertices, radius, world_cell)


def test_the_default_threshold_is_the_density_half_opaque_over_one_render_step(tmp_path):
    assert half_opaque_density() == pytest.approx(22.19, abs=0.01)
    smoke = RenderSettings(RaySettings(samples=16))  # the cpu_smoke render: 4 times the step, a quarter of the density
    assert half_opaque_density(smoke) == pytest.approx(22.19 / 4, abs=0.01)
    step = (1 / smoke.rays.near - 1 / smoke.rays.far) / smoke.rays.samples
    assert 1 - math.exp(-half_opaque_density(smoke) * step) == pytest.approx(0.5)
    # export_mesh takes it from the scene's render settings: a sphere whose density is 5.5 at r = 0.3
    stats = export_mesh(sphere_scene(0.3, half_opaque_density(smoke)), tmp_path / "m.ply", 24, settings=smoke)
    assert stats.threshold == half_opaque_density(smoke)
    check_sphere(trimesh.load(stats.path).vertices, 0.3, 1 / 23)


def tetrahedron():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    colors = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.4, 0.8]], dtype=np.float32)
    return Isosurface(vertices, faces, colors)


def glb_json(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<I", data[12:16])
    return json.loads(data[20 : 20 + length])


def test_glb_is_y_up_with_linear_colours_and_an_unlit_material(tmp_path):
    surface = tetrahedron()
    path = write_mesh(surface, tmp_path / "t.glb")
    # skip_materials: trimesh then reads COLOR_0 as the mesh's vertex colours.
    loaded = trimesh.load(path, force="mesh", process=False, skip_materials=True)
    x, y, z = surface.vertices.T
    np.testing.assert_allclose(loaded.vertices, np.stack([x, z, -y], axis=1), atol=1e-6)
    assert loaded.vertices[3].tolist() == pytest.approx([0, 1, 0])  # world +z is file +y
    # A proper rotation keeps the winding: the file's normals are the rotated world normals.
    world = trimesh.Trimesh(surface.vertices, surface.faces, process=False)
    np.testing.assert_allclose(loaded.face_normals, world.face_normals[:, [0, 2, 1]] * [1, 1, -1], atol=1e-6)
    linear = loaded.visual.vertex_colors[:, :3]
    srgb = trimesh.visual.color.linear_to_srgb(linear / 255.0)
    np.testing.assert_allclose(srgb[[0, 1, 3]], surface.colors[[0, 1, 3]], atol=2.5 / 255)
    # sRGB 0.5 is linear 0.214: the bytes in the file are linear (glTF's COLOR_0).
    assert linear[0, 0] == round(0.21404 * 255)
    tree = glb_json(path)
    assert "KHR_materials_unlit" in tree["extensionsUsed"]
    assert tree["meshes"][0]["primitives"][0]["material"] == 0
    assert "KHR_materials_unlit" in tree["materials"][0]["extensions"]


def test_ply_keeps_the_z_up_world_and_srgb_bytes(tmp_path):
    surface = tetrahedron()
    loaded = trimesh.load(write_mesh(surface, tmp_path / "t.ply"), process=False)
    np.testing.assert_allclose(loaded.vertices, surface.vertices, atol=1e-6)
    np.testing.assert_array_equal(loaded.faces, surface.faces)
    assert loaded.visual.vertex_colors[:, :3].tolist() == np.round(surface.colors * 255).tolist()


def test_obj_is_y_up_with_srgb_vertex_colours(tmp_path):
    surface = tetrahedron()
    path = write_mesh(surface, tmp_path / "t.OBJ")
    loaded = trimesh.load(path, process=False)
    x, y, z = surface.vertices.T
    np.testing.assert_allclose(loaded.vertices, np.stack([x, z, -y], axis=1), atol=1e-6)
    np.testing.assert_allclose(loaded.visual.vertex_colors[:, :3] / 255, surface.colors, atol=1 / 255)
    assert path.read_text().startswith("v ") or "\nv " in path.read_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": 60.0}, "above every density"),
        ({"threshold": 25.0, "half_size": 0.1}, "every density in the foreground region is above"),
        ({"resolution": 1}, "resolution must be an integer >= 2"),
        ({"resolution": 2.5}, "resolution must be an integer >= 2"),
        ({"half_size": 0.0}, "half_size must be a positive size"),
        ({"half_size": -1.0}, "half_size must be a positive size"),
        ({"threshold": 0.0}, "threshold must be a positive density"),
        ({"threshold": float("nan")}, "threshold must be a positive density"),
        ({"region": "background"}, "region must be one of foreground, scene"),
    ],
)
def test_bad_mesh_options_raise_one_clear_error_and_write_nothing(tmp_path, options, message):
    path = tmp_path / "m.glb"
    with pytest.raises(ValueError, match=message):
        export_mesh(sphere_scene(0.3), path, **{"resolution": 16, **options})
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_is_refused_before_the_field_is_evaluated(tmp_path):
    scene = sphere_scene(0.3)
    scene.field.density = lambda points: pytest.fail("the field was evaluated")
    with pytest.raises(ValueError, match=r"a mesh is written as \.glb, \.ply, \.obj .*m\.stl"):
        export_mesh(scene, tmp_path / "m.stl", resolution=16)
    assert list(tmp_path.iterdir()) == []


def test_nan_in_the_field_is_an_error(tmp_path):
    scene = sphere_scene(0.3)
    with torch.no_grad():
        scene.field.peak.fill_(float("nan"))
    with pytest.raises(ValueError, match="density is NaN or infinite"):
        export_mesh(scene, tmp_path / "m.ply", resolution=16)
    assert list(tmp_path.iterdir()) == []


def test_a_callback_that_raises_stops_the_export_before_any_file(tmp_path):
    def stop(step, total, preview=None):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_mesh(sphere_scene(0.3), tmp_path / "m.obj", resolution=16, chunk_points=256, callback=stop)
    assert list(tmp_path.iterdir()) == []


class GroundDensity(nn.Module):
    """Solid (density 1000) below the plane z = -0.2, within 50 units; empty above."""

    def __init__(self):
        super().__init__()
        self.peak = nn.Parameter(torch.tensor(1000.0))

    def forward(self, points):
        inside = (points[:, 2] < -0.2) & (points.norm(dim=-1) < 50)
        return torch.where(inside, self.peak, torch.zeros_like(self.peak))


class GroundField(GroundDensity):
    def density(self, points):
        return super().forward(points)

    def forward(self, points):
        return self.density(points), sphere_colors(points)


def test_point_cloud_of_a_rendered_ground_plane_lies_on_the_plane(tmp_path):
    scene = Scene(SMALL)
    scene.field, scene.proposal = GroundField(), GroundDensity()
    c2w, fov = orbit_path(4, 60.0, 1.0), 40.0  # every pixel sees the plane, 1.1 to 1.7 units away
    frames = render_path(scene, c2w, fov, size=24)
    stats = export_point_cloud(frames, c2w, fov, tmp_path / "ground.ply")
    cloud = trimesh.load(stats.path)
    assert isinstance(cloud, trimesh.PointCloud) and len(cloud.vertices) == stats.points == 4 * 24 * 24
    # Each point is on its pixel's ray, a little beyond where the ray meets the plane: the render's depth is
    # the midpoint of the sample interval where the ray enters the solid (64 + 64 samples per ray, uniform
    # in disparity). Measured: 0.6 % of the distance on average, 2.6 % at most; height above the plane
    # 0.028 at most.
    origins, directions = (part.reshape(-1, 3).numpy() for part in camera_rays(c2w, fov, 24, 24))
    along = ((cloud.vertices - origins) * directions).sum(axis=1)
    np.testing.assert_allclose(cloud.vertices, origins + along[:, None] * directions, atol=1e-4)
    excess = along / ((-0.2 - origins[:, 2]) / directions[:, 2]) - 1
    assert excess.min() > -1e-4 and excess.mean() < 0.01 and excess.max() < 0.035
    height = np.abs(cloud.vertices[:, 2] + 0.2)
    assert height.mean() < 0.01 and height.max() < 0.04
    red = cloud.vertices[:, 0] > 0.05
    assert red.sum() > 100 and np.abs(cloud.colors[red, :3] - np.array(RED) * 255).max() <= 0.5


def test_points_from_a_constructed_depth_map_divide_by_opacity_and_drop_faint_pixels():
    c2w, fov, size = orbit_path(3, 30.0, 1.0), 40.0, 16
    origins, directions = camera_rays(c2w.double(), fov, size, size)
    distance = -origins[..., 2] / directions[..., 2]  # to the plane z = 0
    hit = distance > 0
    opacity = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    opacity = torch.where(hit, 0.2 + 0.8 * opacity, torch.zeros_like(opacity))
    depth = torch.where(hit, opacity * distance, torch.zeros_like(distance))  # sum w t, as rendered
    rgb = torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(1))
    frames = OrbitFrames(rgb, depth[:, None].float(), opacity[:, None].float())
    points, colors = frames_to_points(frames, c2w, fov, min_opacity=0.5)
    keep = opacity >= 0.5
    assert len(points) == int(keep.sum()) > 0
    np.testing.assert_allclose(points[:, 2], 0.0, atol=1e-5)
    np.testing.assert_allclose(colors, rgb.permute(0, 2, 3, 1)[keep].numpy())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_opacity": 0.0}, r"min_opacity must be in \(0, 1\]"),
        ({"min_opacity": 1.5}, r"min_opacity must be in \(0, 1\]"),
        ({"path": "cloud.glb"}, "a point cloud is written as .ply"),
        ({"c2w": orbit_path(3, 30.0, 1.0)}, r"one camera per frame \(2\)"),
        ({"opacity": 0.1}, r"no pixel has opacity >= min_opacity \(0.5\); the largest is 0.1"),
        ({"depth": float("nan")}, "frames.depth has NaN"),
    ],
)
def test_bad_point_cloud_inputs_raise_one_clear_error_and_write_nothing(tmp_path, change, message):
    frames = OrbitFrames(torch.rand(2, 3, 4, 4), torch.ones(2, 1, 4, 4), torch.ones(2, 1, 4, 4))
    if "opacity" in change:
        frames.opacity.fill_(change["opacity"])
    if "depth" in change:
        frames.depth[0, 0, 1, 1] = change["depth"]
    with pytest.raises(ValueError, match=message):
        export_point_cloud(
            frames,
            change.get("c2w", orbit_path(2, 30.0, 1.0)),
            50.0,
            tmp_path / change.get("path", "cloud.ply"),
            min_opacity=change.get("min_opacity", 0.5),
        )
    assert list(tmp_path.iterdir()) == []
