"""Camera Pose Builder: the input photo's camera and the target cameras, as a ``ZERONVS_CAMERAS`` set.

Angles are in degrees. The input camera looks at the orbit centre (the point seen at the centre of the
photo) from ``input_elevation_deg`` above the ground plane, at azimuth 0 and distance 1; targets are
placed in the same frame (see ``zeronvs_core.camera_set``).
"""

from __future__ import annotations

from zeronvs_core.wild_defaults import ELEVATION_DEG, FOV_DEG

from .comfy_io import check_choice, io
from .types import CAMERAS

__all__ = ["MODES", "CameraPoseBuilder"]

MODES = ("orbit", "single", "list")
ELEVATION_RANGE = (-89.0, 89.0)
AZIMUTH_RANGE = (-720.0, 720.0)
FOV_RANGE = (1.0, 179.0)
DISTANCE_RANGE = (0.05, 100.0)
MAX_CAMERAS = 1024


class CameraPoseBuilder(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ZeroNVS_CameraPoseBuilder",
            display_name="ZeroNVS Camera Pose Builder",
            category="ZeroNVS/cameras",
            description="The input photo's camera (FOV, elevation) and the cameras to synthesise: an orbit, "
            "one pose, or a typed list. World z is up; the orbit turns about the point seen at the photo's centre.",
            inputs=[
                io.Float.Input(
                    "fov_deg",
                    default=FOV_DEG,
                    min=FOV_RANGE[0],
                    max=FOV_RANGE[1],
                    step=0.01,
                    tooltip="Vertical field of view of the photo's centred square crop, degrees "
                    "(52.55 in the official examples). Target views use the same FOV.",
                ),
                io.Float.Input(
                    "input_elevation_deg",
                    default=ELEVATION_DEG,
                    min=ELEVATION_RANGE[0],
                    max=ELEVATION_RANGE[1],
                    step=0.1,
                    tooltip="How far the photo's camera looks down on the scene, degrees above the ground plane "
                    "(31 in the official examples). A badly wrong value makes SDS fail.",
                ),
                io.Combo.Input(
                    "mode",
                    options=list(MODES),
                    default="orbit",
                    tooltip="orbit: 'count' cameras from azimuth_start_deg to azimuth_end_deg; single: one camera "
                    "at azimuth_start_deg; list: the cameras typed in 'poses'.",
                ),
                io.Int.Input(
                    "count",
                    default=8,
                    min=1,
                    max=MAX_CAMERAS,
                    tooltip="orbit: number of cameras. A whole turn leaves out its end, so frames loop.",
                ),
                io.Float.Input(
                    "azimuth_start_deg",
                    default=0.0,
                    min=AZIMUTH_RANGE[0],
                    max=AZIMUTH_RANGE[1],
                    step=1.0,
                    tooltip="orbit and single: first azimuth, degrees; 0 is the input camera's side, "
                    "positive turns counter-clockwise seen from above.",
                ),
                io.Float.Input(
                    "azimuth_end_deg",
                    default=360.0,
                    min=AZIMUTH_RANGE[0],
                    max=AZIMUTH_RANGE[1],
                    step=1.0,
                    tooltip="orbit: last azimuth, degrees (left out when the arc is a whole turn).",
                ),
                io.Float.Input(
                    "elevation_deg",
                    default=ELEVATION_DEG,
                    min=ELEVATION_RANGE[0],
                    max=ELEVATION_RANGE[1],
                    step=0.1,
                    tooltip="orbit and single: elevation of the target cameras, degrees.",
                ),
                io.Float.Input(
                    "distance",
                    default=1.0,
                    min=DISTANCE_RANGE[0],
                    max=DISTANCE_RANGE[1],
                    step=0.01,
                    tooltip="orbit and single: distance of the target cameras from the orbit centre; "
                    "1 is the input camera's distance.",
                ),
                io.String.Input(
                    "poses",
                    multiline=True,
                    default="90 31 1\n180 31 1\n270 31 1",
                    tooltip="list: one camera per line, 'azimuth_deg elevation_deg distance' looking at the "
                    "orbit centre, or the 16 numbers of an OpenGL camera-to-world matrix, row by row.",
                ),
            ],
            outputs=[
                CAMERAS.Output(
                    display_name="cameras",
                    tooltip="The photo's camera (FOV, elevation) and the target cameras, for the Sampler, "
                    "Anchor Generator, SDS Distiller and Orbit Renderer.",
                )
            ],
        )

    @classmethod
    def execute(
        cls,
        fov_deg,
        input_elevation_deg,
        mode,
        count,
        azimuth_start_deg,
        azimuth_end_deg,
        elevation_deg,
        distance,
        poses,
    ):
        from zeronvs_core.camera_set import CameraSet, parse_poses
        from zeronvs_core.cameras import orbit_path

        check_choice("mode", mode, MODES)
        if mode == "list":
            targets = parse_poses(poses)
        else:
            count = count if mode == "orbit" else 1
            targets = orbit_path(count, elevation_deg, distance, azimuth_start_deg, azimuth_end_deg)
        return io.NodeOutput(CameraSet(fov_deg, input_elevation_deg, targets))
