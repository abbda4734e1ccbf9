"""The synthetic multi-view scene generator: exact depth, determinism, variety, valid cameras and argument checks."""

import math

import pytest
import torch

from zeronvs_core.cameras import camera_rays, validate_c2w
from zeronvs_core.data.raycast import Primitive, SyntheticScene, SyntheticView
from zeronvs_core.data.synthetic import KINDS, camera_path, generate_views, make_scene


def _ground_only_scene() -> SyntheticScene:
    ground = Primitive("plane", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.2, 0.3, 0.4), (0.8, 0.7, 0.6))
    return SyntheticScene(
        kind="outdoor",
        seed=0,
        primitives=(ground,),
        light_dir=(0.0, 0.0, 1.0),
        sky_horizon=(0.9, 0.9, 0.9),
        sky_zenith=(0.3, 0.5, 0.9),
        target=(0.0, 0.0, 0.0),
        camera_lo=(-1.0, -1.0, 1.0),
        camera_hi=(1.0, 1.0, 3.0),
        fov_deg=50.0,
    )


def test_depth_of_a_camera_looking_straight_down_at_the_ground():
    height, fov, size = 2.5, 60.0, 33  # odd size: the central pixel's ray is the optical axis
    c2w = torch.eye(4)
    c2w[:3, 3] = torch.tensor([0.3, -0.7, height])  # identity rotation: looks along -z
    (view,) = _ground_only_scene().render(c2w, fov, size)
    assert view.depth[size // 2, size // 2].item() == pytest.approx(height, abs=1e-4)
    _, directions = camera_rays(c2w[None].double(), fov, size, size)
    cos_axis = -directions[0, ..., 2]  # cosine of the angle to the optical axis (0, 0, -1)
    torch.testing.assert_close(view.depth.double(), height / cos_axis, rtol=0, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_depth_lands_on_a_primitive_surface(kind):
    for seed in (0, 5):
        scene = make_scene(kind, seed)
        c2w = camera_path(scene, 3, seed + 11)
        views = scene.render(c2w, 55.0, 32)
        for view in views:
            origins, directions = camera_rays(view.c2w[None].double(), view.fov_deg, 32, 32)
            hit = view.depth > 0
            assert hit.any()
            points = origins[0][hit] + view.depth.double()[hit][:, None] * directions[0][hit]
            assert scene.surface_distance(points).max().item() < 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_views_are_deterministic_varied_and_well_formed(kind):
    views = generate_views(kind, 3, n_views=4, size=24)
    again = generate_views(kind, 3, n_views=4, size=24)
    other = generate_views(kind, 4, n_views=4, size=24)
    assert len(views) == 4 and all(isinstance(v, SyntheticView) for v in views)
    for a, b in zip(views, again, strict=True):
        assert torch.equal(a.image, b.image) and torch.equal(a.depth, b.depth) and torch.equal(a.c2w, b.c2w)
        assert a.fov_deg == b.fov_deg
    assert not all(torch.equal(a.image, b.image) for a, b in zip(views, other, strict=True))
    for view in views:
        assert view.image.shape == (3, 24, 24) and view.image.dtype == torch.float32
        assert view.depth.shape == (24, 24) and view.depth.dtype == torch.float32
        assert view.c2w.shape == (4, 4) and view.c2w.dtype == torch.float32
        assert 40.0 <= view.fov_deg <= 70.0
        assert view.image.min() >= 0 and view.image.max() <= 1
        assert torch.isfinite(view.depth).all() and (view.depth >= 0).all()
        assert view.image.std() > 0.02  # not a constant image
        assert view.depth.max() > 0
    c2w = torch.stack([v.c2w for v in views])
    validate_c2w(c2w)
    assert torch.linalg.det(c2w[:, :3, :3].double()).sub(1).abs().max() < 1e-5
    assert not torch.equal(views[0].c2w, views[-1].c2w)  # the camera moves


def test_explicit_fov_and_single_camera_render():
    views = generate_views("object", 0, n_views=2, size=16, fov_deg=35.0)
    assert all(v.fov_deg == 35.0 for v in views)
    scene = make_scene("object", 0)
    (single,) = scene.render(views[0].c2w, 35.0, 16)
    assert torch.equal(single.image, views[0].image)


def test_object_orbit_looks_at_the_centre():
    scene = make_scene("object", 2)
    c2w = camera_path(scene, 6, 1).double()
    target = torch.tensor(scene.target, dtype=torch.float64)
    to_target = torch.nn.functional.normalize(target - c2w[:, :3, 3], dim=-1)
    forward = -c2w[:, :3, 2]
    torch.testing.assert_close(forward, to_target, atol=1e-5, rtol=0)
    distance = (c2w[:, :3, 3] - target).norm(dim=-1)
    assert (distance >= scene.orbit_min_distance - 1e-4).all()
    assert (c2w[:, 2, 3] > 0).all()  # above the ground


@pytest.mark.parametrize("seed", range(6))
def test_cameras_stay_in_free_space(seed):
    room = make_scene("room", seed)
    (box,) = [p for p in room.primitives if p.shape == "room"]
    lo, hi = box.bounds()
    centres = camera_path(room, 5, seed)[:, :3, 3].double()
    assert (centres > torch.tensor(lo) + 0.5).all() and (centres < torch.tensor(hi) - 0.5).all()
    for kind in KINDS:
        scene = make_scene(kind, seed)
        centres = camera_path(scene, 5, seed)[:, :3, 3]
        assert (scene.surface_distance(centres) > 0.1).all()  # never on or next to a surface
        for prim in scene.primitives:
            if prim.shape in ("sphere", "box"):  # never inside an object's bounding box
                p_lo, p_hi = (torch.tensor(b) for b in prim.bounds())
                inside = ((centres.double() > p_lo) & (centres.double() < p_hi)).all(dim=-1)
                assert not inside.any()
        if kind != "room":
            assert (centres[:, 2] > 0.5).all()


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: make_scene("kitchen", 0), "kind"),
        (lambda: generate_views("forest", 0), "kind"),
        (lambda: generate_views("room", 0, n_views=0), "n_views"),
        (lambda: camera_path(make_scene("room", 0), 0, 0), "n_views"),
        (lambda: generate_views("room", 0, size=4), "size"),
        (lambda: make_scene("room", 0).render(torch.eye(4), 50.0, 7), "size"),
        (lambda: make_scene("room", 0).render(torch.eye(4), 200.0, 16), "fov_deg"),
        (lambda: make_scene("room", -1), "seed"),
        (lambda: make_scene("room", 0).render(2 * torch.eye(4), 50.0, 16), "c2w"),
        (lambda: make_scene("room", 0).render(torch.eye(4), 50.0, 16, supersample=0), "supersample"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_depth_is_distance_along_the_ray_not_z_depth():
    scene = make_scene("room", 1)
    (view,) = scene.render(camera_path(scene, 1, 0), 70.0, 17)
    _, directions = camera_rays(view.c2w[None].double(), 70.0, 17, 17)
    forward = -view.c2w[:3, 2].double()
    z_depth = view.depth.double() * (directions[0] @ forward)
    assert (view.depth.double() - z_depth)[0, 0] > 0  # corner rays are oblique
    assert math.isclose((view.depth.double() - z_depth)[8, 8].item(), 0.0, abs_tol=1e-5)


def test_supersampling_averages_sub_pixel_rays_and_keeps_pixel_centre_depth():
    scene = make_scene("object", 3)
    c2w = camera_path(scene, 2, 3)
    plain = scene.render(c2w, scene.fov_deg, 16)
    smooth = scene.render(c2w, scene.fov_deg, 16, supersample=2)
    fine, _ = scene.cast(c2w, scene.fov_deg, 32, 32)
    for i in range(2):
        torch.testing.assert_close(smooth[i].depth, plain[i].depth)
        torch.testing.assert_close(smooth[i].image, fine[i].reshape(3, 16, 2, 16, 2).mean(dim=(2, 4)))
    assert (smooth[0].image - plain[0].image).abs().max() > 0.1  # edges and textures are anti-aliased


@pytest.mark.parametrize("seed", range(4))
def test_lateral_object_orbit_turns_about_a_point_beside_the_objects(seed):
    scene = make_scene("object", seed)
    target = torch.tensor(scene.target, dtype=torch.float64)
    plain, lateral = camera_path(scene, 8, seed).double(), camera_path(scene, 8, seed, lateral=True)
    positions = lateral.double()[:, :3, 3]
    centre = torch.cat([positions[:, :2].mean(0), target[2:]])  # a full turn: the centre is the mean in x, y
    to_centre = torch.nn.functional.normalize(centre - positions, dim=-1)
    torch.testing.assert_close(-lateral.double()[:, :3, 2], to_centre, atol=1e-5, rtol=0)  # looks at it
    reach = (scene.orbit_min_distance - 1.5) / 2
    assert 0.3 * reach - 1e-6 <= (centre - target).norm().item() <= 0.7 * reach + 1e-6
    # only the centre moved: the plain orbit shifted by the same offset
    torch.testing.assert_close(positions, plain[:, :3, 3] + (centre - target), atol=1e-4, rtol=0)
    assert (scene.surface_distance(lateral[:, :3, 3]) > 0.1).all()


@pytest.mark.parametrize("kind", ["room", "outdoor"])
def test_lateral_room_and_outdoor_paths_cross_the_camera_region_sideways(kind):
    for seed in range(3):
        scene = make_scene(kind, seed)
        positions = camera_path(scene, 6, seed, lateral=True)[:, :3, 3].double()
        width = scene.camera_hi[0] - scene.camera_lo[0]
        step = positions[1:] - positions[:-1]
        torch.testing.assert_close(step[:, 1], torch.zeros(5, dtype=torch.float64), atol=1e-5, rtol=0)  # no forward
        assert abs(positions[-1, 0] - positions[0, 0]).item() == pytest.approx(width, rel=1e-5)
        assert (scene.surface_distance(positions.float()) > 0.1).all()
        forward = camera_path(scene, 6, seed)[:, :3, 3].double()
        assert (forward[-1, 1] - forward[0, 1]).item() >= 1.0  # the default path still goes forward
