"""SDS Distiller: distil the model's novel views of the photo into a 3D scene (a NeRF), with a live
preview of the input view and Cancel honoured at every step."""

from __future__ import annotations

from .comfy_io import io
from .images import photo_from_image
from .progress import progress
from .sampler import MAX_GUIDANCE
from .types import ANCHORS, SCENE, DistilledScene, photo_inputs, seed_input

__all__ = ["SDSDistiller"]

MAX_STEPS = 100_000
MAX_MEMORY_BUDGET_GIB = 1024.0


class SDSDistiller(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        from zeronvs_core.distill import PRESETS

        return io.Schema(
            node_id="ZeroNVS_SDSDistiller",
            display_name="ZeroNVS SDS Distiller",
            category="ZeroNVS/distillation",
            description="Score distillation of the model into a 3D scene (a NeRF) around the photo (the paper's 360 "
            "degree recipe). Slow: minutes on a GPU with 'fast', an hour with 'official'; 'cpu_smoke' is a "
            "tiny run for trying the graph on a CPU. The node previews the input view as it trains.",
            inputs=[
                *photo_inputs(),
                seed_input(),
                io.Combo.Input(
                    "preset",
                    options=list(PRESETS),
                    default=_default_preset(),
                    tooltip="official: the paper's recipe (4000 steps, 128 then 256 px); official_dtu: its DTU "
                    "variant; fast: 1000 steps at half resolution; cpu_smoke: 200 tiny steps for a CPU. The "
                    "default is what 'zeronvs orbit' picks for ComfyUI's device: fast on a GPU, cpu_smoke on "
                    "the CPU (--cpu).",
                ),
                io.Int.Input(
                    "steps",
                    default=0,
                    min=0,
                    max=MAX_STEPS,
                    tooltip="Distillation steps; 0 keeps the preset's. Other values stretch or shrink every "
                    "schedule of the preset to fit.",
                ),
                io.Float.Input(
                    "guidance_scale",
                    default=0.0,
                    min=0.0,
                    max=MAX_GUIDANCE,
                    step=0.1,
                    tooltip="Classifier-free guidance scale of SDS; 0 keeps the preset's (official and fast: 9.5, "
                    "official_dtu: 7.5). Other values replace it.",
                ),
                io.Boolean.Input(
                    "anchoring",
                    default=False,
                    tooltip="Condition SDS views on the nearest anchor view early on (more varied backgrounds). "
                    "Needs 'anchors' from an Anchor Generator; off ignores them.",
                ),
                io.Float.Input(
                    "memory_budget_gib",
                    default=0.0,
                    min=0.0,
                    max=MAX_MEMORY_BUDGET_GIB,
                    step=0.5,
                    tooltip="GiB a step's renders may hold for back-propagation. 0: automatic (80 % of the free "
                    "GPU memory on CUDA; no limit on the CPU). A number (e.g. 6 on an 8 GB card): steps that "
                    "need more render in chunks that fit (same result, about 1.4x slower renders).",
                ),
                ANCHORS.Input("anchors", optional=True, tooltip="Anchor views (Anchor Generator)."),
            ],
            outputs=[SCENE.Output(display_name="scene", tooltip="The distilled 3D scene.")],
        )

    @classmethod
    def execute(
        cls,
        model,
        image,
        cameras,
        scale,
        seed,
        preset,
        steps,
        guidance_scale,
        anchoring,
        memory_budget_gib,
        anchors=None,
        mask=None,
    ):
        import torch

        from zeronvs_core.distill import distill
        from zeronvs_core.render import settings_for

        if anchoring and anchors is None:
            raise ValueError("anchoring is on but no anchors are connected: add an Anchor Generator")
        anchors = anchors if anchoring else None
        anchor_count = 0 if anchors is None else len(anchors.c2w)
        config = _config(preset, steps, guidance_scale, seed, anchor_count, memory_budget_gib)
        with torch.inference_mode(False), torch.enable_grad():  # ComfyUI runs nodes in inference mode
            result = distill(
                model.ready(),
                photo_from_image(image, mask).clone(),
                cameras.fov_deg,
                cameras.elevation_deg,
                scale,
                config,
                callback=progress(previews=True),
                anchor_views=anchors,
            )
        return io.NodeOutput(DistilledScene(result.scene, settings_for(config, cameras.fov_deg, cameras.elevation_deg)))


def _default_preset() -> str:
    """The preset ``zeronvs orbit`` uses on ComfyUI's device (``zeronvs_core.jobs.default_preset``); on the
    device the command line would choose when the pack is imported without ComfyUI."""
    from zeronvs_core.jobs import choose_device, default_preset

    try:
        import comfy.model_management
    except ImportError:
        return default_preset(choose_device("auto"))
    return default_preset(comfy.model_management.get_torch_device())


def _config(preset: str, steps: int, guidance_scale: float, seed: int, anchor_count: int, memory_budget_gib: float):
    """The preset with the node's steps (0: the preset's), guidance (0: the preset's), seed, number of
    anchors and memory budget (0: ``"auto"``, else GiB; ``DistillConfig.memory_budget_gib``)."""
    from dataclasses import replace

    from zeronvs_core.distill import preset as distill_preset

    config = distill_preset(preset, steps or None)
    anchoring = replace(config.anchoring, count=anchor_count)
    guidance = config.guidance_scale if guidance_scale == 0 else guidance_scale
    budget = "auto" if memory_budget_gib == 0 else float(memory_budget_gib)
    return replace(config, guidance_scale=guidance, seed=seed, anchoring=anchoring, memory_budget_gib=budget)
