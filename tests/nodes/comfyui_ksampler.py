"""Run ``workflows/api/ksampler_views.json`` inside a real ComfyUI (its own nodes, in-process, on the CPU) with a
ZeroNVS Sampler (DDIM, eta 0, same steps, guidance and seed) beside KSampler; write both view batches' difference.

Not a test module: ``test_comfyui_ksampler.py`` runs it with a Python in which ComfyUI imports.

Usage: python comfyui_ksampler.py COMFYUI_DIR BASE_DIR OUT.json
BASE_DIR holds ``models/checkpoints/<ckpt>`` (from ``zeronvs convert --comfyui``), ``models/zeronvs/<model>`` (the
same weights in the official layout, for the ZeroNVS nodes), ``input/<photo>`` and ``settings.json``:
``{"ckpt": ..., "model": ..., "photo": ..., "views": N, "steps": S}``. OUT.json gets the figures (differences in
units of 1/255, PSNR in dB, seconds of the two paths together with the model loads); both paths' views go
to ``BASE_DIR/output/{ksampler,sampler}_<i>.png``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLER_ID = "ks_vs_sampler"
"""Node id of the ZeroNVS Sampler added beside KSampler."""


def _start_comfyui(comfyui: Path, base: Path):
    """ComfyUI's modules, on the CPU, with folders under ``base``."""
    sys.path.insert(0, str(comfyui))
    from comfy.cli_args import args

    args.cpu = True  # before comfy.model_management is imported
    import folder_paths

    folder_paths.set_output_directory(str(base / "output"))
    folder_paths.set_input_directory(str(base / "input"))
    folder_paths.set_temp_directory(str(base / "temp"))
    import nodes

    return nodes, folder_paths


def _load_pack(folder_paths):
    """The pack as ComfyUI loads a custom-node folder (its ``__init__.py`` as a package); its node classes."""
    import asyncio

    init = REPO / "__init__.py"
    spec = importlib.util.spec_from_file_location("zeronvs", init, submodule_search_locations=[str(REPO)])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["zeronvs"] = pack
    spec.loader.exec_module(pack)
    extension = asyncio.run(pack.comfy_entrypoint())
    return {node.define_schema().node_id: node for node in asyncio.run(extension.get_node_list())}


def _prompt(settings: dict) -> dict:
    prompt = json.loads((REPO / "workflows" / "api" / "ksampler_views.json").read_text())
    prompt["1"]["inputs"]["image"] = settings["photo"]
    prompt["2"]["inputs"]["model_name"] = settings["model"]
    prompt["3"]["inputs"]["count"] = settings["views"]
    prompt["6"]["inputs"]["ckpt_name"] = settings["ckpt"]
    ksampler = prompt["7"]["inputs"]
    ksampler["steps"] = settings["steps"]
    prompt[SAMPLER_ID] = {
        "class_type": "ZeroNVS_Sampler",
        "inputs": {
            **{name: prompt["5"]["inputs"][name] for name in ("model", "image", "cameras", "scale", "mask")},
            "seed": ksampler["seed"],
            "steps": ksampler["steps"],
            "guidance_scale": ksampler["cfg"],
            "eta": 0.0,
        },
    }
    return prompt


def _run(prompt: dict, core: dict, ours: dict) -> dict:
    """Every node of an API prompt in dependency order, as ComfyUI's executor calls them (inference mode)."""
    import torch

    results: dict[str, tuple] = {}

    def outputs(node_id: str) -> tuple:
        if node_id not in results:
            node = prompt[node_id]
            inputs = {name: value(item) for name, item in node["inputs"].items()}
            kind = node["class_type"]
            with torch.inference_mode():
                if kind in ours:
                    results[node_id] = tuple(ours[kind].execute(**inputs).args)
                else:
                    cls = core[kind]
                    result = getattr(cls(), cls.FUNCTION)(**inputs)
                    results[node_id] = tuple(result["result"]) if isinstance(result, dict) else tuple(result)
        return results[node_id]

    def value(item):
        linked = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
        return outputs(item[0])[item[1]] if linked else item

    for node_id in prompt:
        if prompt[node_id]["class_type"] != "PreviewImage":
            outputs(node_id)
    return results


def main(comfyui: str, base: str, out: str) -> None:
    import torch
    from PIL import Image

    base_path = Path(base)
    settings = json.loads((base_path / "settings.json").read_text())
    nodes, folder_paths = _start_comfyui(Path(comfyui), base_path)
    ours = _load_pack(folder_paths)
    folder_paths.add_model_folder_path("checkpoints", str(base_path / "models" / "checkpoints"), is_default=True)
    folder_paths.add_model_folder_path("zeronvs", str(base_path / "models" / "zeronvs"), is_default=True)
    start = time.perf_counter()
    results = _run(_prompt(settings), nodes.NODE_CLASS_MAPPINGS, ours)
    seconds = time.perf_counter() - start
    (ksampler,) = results["8"]  # VAE Decode of KSampler's latents, IMAGE [N,H,W,3]
    (sampler,) = results[SAMPLER_ID]
    difference = (ksampler.float() - sampler.float()).abs() * 255
    mse = ((ksampler.float() - sampler.float()) ** 2).mean().item()
    as_bytes = [(images.clamp(0, 1) * 255).round().to(torch.uint8) for images in (ksampler, sampler)]
    for path, images in zip(("ksampler", "sampler"), as_bytes, strict=True):
        for index, image in enumerate(images):
            Image.fromarray(image.numpy()).save(base_path / "output" / f"{path}_{index}.png")
    figures = {
        "shape": list(ksampler.shape),
        "max_diff_255": difference.max().item(),
        "mean_diff_255": difference.mean().item(),
        "max_diff_8bit": (as_bytes[0].int() - as_bytes[1].int()).abs().max().item(),
        "psnr_db": 10 * math.log10(1 / mse) if mse > 0 else math.inf,
        "seconds": seconds,
    }
    Path(out).write_text(json.dumps(figures))


if __name__ == "__main__":
    main(*sys.argv[1:])
