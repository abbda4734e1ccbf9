"""ZeroNVS (Sargent et al., CVPR 2024: 360° novel views from one real photo) as a plain PyTorch library
on diffusers and nerfacc. It never imports ComfyUI, and importing this package imports nothing heavy:
import the submodules you use.

Modules:

- ``cameras``, ``camera_conventions``, ``camera_set``, ``wild_defaults``: 4x4 OpenGL camera-to-world
  cameras in a z-up world, orbits (``orbit_camera``, ``orbit_path``), other tools' pose conventions, the
  official in-the-wild FOV 52.55°, elevation 31°, scale 0.7.
- ``conditioning`` (``encode_camera``), ``scene_scale`` (``viewer_scale``): the model's camera vector
  and the scale its translations are divided by.
- ``model``: ``ZeroNVSModel``; ``load_zeronvs`` reads the released ``zeronvs.ckpt`` or the project's
  ``.safetensors`` (``demo_model_path()``: the embedded 64 px demo model ``zeronvs-mini``).
- ``images`` (``read_image``, ``prepare_image``): photo files to tensors, and the model's square input.
- ``noise_schedule``, ``sampling`` (``sample_views``): DDIM novel views with classifier-free guidance.
- ``nerf/``, ``schedules``, ``anchors``, ``distill`` (``distill``, ``preset``), ``device_runtime``:
  SDS distillation of the model into a 3D ``Scene``, with checkpoints and resume.
- ``render`` (``render_orbit``, ``write_video``, ``save_scene``, ``load_scene``), ``mesh`` (``export_mesh``),
  ``point_cloud`` (``export_point_cloud``): videos, scene files, meshes and point clouds.
- ``metrics``, ``lpips``, ``evaluation``, ``data/``: PSNR / SSIM / LPIPS, the DTU and Mip-NeRF 360
  protocols, dataset readers and procedural training scenes.
- ``jobs``, ``run_record``, ``cli`` (``eval_cli``, ``mesh_cli``): the ``zeronvs`` command; also
  ``tensor_files``, ``fingerprint``, ``progress``, ``stock_conditioning`` (ComfyUI's KSampler).

Quick start (the demo model and the ``cpu_smoke`` preset: a few minutes on a 2-core CPU; pass the released
``zeronvs.ckpt`` and ``preset("official")`` on a GPU for real photos)::

    from zeronvs_core.cameras import orbit_camera, orbit_path
    from zeronvs_core.distill import distill, preset
    from zeronvs_core.images import read_image
    from zeronvs_core.mesh import export_mesh
    from zeronvs_core.model import demo_model_path, load_zeronvs
    from zeronvs_core.render import render_orbit, save_scene, settings_for, write_video
    from zeronvs_core.sampling import sample_views

    model = load_zeronvs(demo_model_path())  # or "zeronvs.ckpt", device="cuda", dtype=torch.float16
    photo = read_image("demo/object.png")  # [1,3,H,W] in [0,1] ([1,4,H,W] with alpha: composited on white)
    fov, elevation, scale = 53.26, 17.9, 0.74  # the photo's camera (demo/README.md)
    views = sample_views(model, photo, orbit_camera(elevation, 0.0), orbit_path(8, elevation), fov, scale)
    recipe = preset("cpu_smoke")  # Ctrl-C leaves run/last.ckpt; resume=True continues from it
    result = distill(model, photo, fov, elevation, scale, recipe, checkpoint_dir="run")
    look = settings_for(recipe, fov, elevation)  # the recipe's near/far, samples per ray, background
    frames = render_orbit(result.scene, elevation, fov, n_views=48, size=96, settings=look)  # frame 0: input
    write_video(frames.rgb, "orbit.mp4")
    save_scene(result.scene, "scene.safetensors", look)  # load_scene gives (scene, look) back
    export_mesh(result.scene, "scene.glb", resolution=128, settings=look)  # threshold: the recipe's render

``views`` is ``[8,3,64,64]`` here (the model's resolution; 256 with the released model). Shapes, units,
defaults and errors are in each function's docstring; README.md has the whole guide.
"""

__version__ = "0.1.0"
