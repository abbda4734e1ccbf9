"""Peak memory and time of ``load_zeronvs`` on a full-size checkpoint in the official layout.

Writes a file with every key and shape of the released ``zeronvs.ckpt`` (from
``tests/fixtures/zeronvs_full_manifest.json``, random values; the UNet and its EMA copy make it about
twice the model's size), then loads it in a fresh process and prints the process's peak resident
memory beside the size of the loaded weights. A loader that held the file's tensors and the model's
parameters at once would show a ratio near 2 (or 3 with the unused live UNet); ours reads each tensor
once, straight into the model. Every weight is read once after loading, so memory-mapped pages count.

    python benchmarks/bench_loading.py --format safetensors   # about 9 GiB written to --workdir
    python benchmarks/bench_loading.py --format ckpt --file-dtype float16
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

MANIFEST = Path(__file__).parents[1] / "tests" / "fixtures" / "zeronvs_full_manifest.json"
_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int32: "I32", torch.int64: "I64"}

_MEASURE = """
import sys, time, torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPVisionModelWithProjection
from zeronvs_core.model import load_zeronvs
torch.set_num_threads(2)
def high_water_bytes():  # VmHWM: this process's peak resident memory (ru_maxrss survives exec)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
base = high_water_bytes()
start = time.perf_counter()
model = load_zeronvs(sys.argv[1])
seconds = time.perf_counter() - start
with torch.no_grad():  # read every weight once, so memory-mapped pages count in the peak
    checksum = sum(float(p.double().sum()) for p in model.parameters())
peak = high_water_bytes()
weights = sum(p.numel() * p.element_size() for p in model.state_dict().values())
print(base, peak, weights, seconds)
"""


def _manifest_tensors(file_dtype: torch.dtype):
    """``(key, shape, dtype)`` of the released state dict; floating tensors in ``file_dtype``."""
    for key, entry in json.loads(MANIFEST.read_text())["keys"].items():
        dtype = getattr(torch, entry["dtype"])
        yield key, entry["shape"], file_dtype if dtype.is_floating_point else dtype


def _random(shape, dtype, generator) -> torch.Tensor:
    if dtype.is_floating_point:
        return (0.02 * torch.randn(shape, generator=generator)).to(dtype)
    return torch.zeros(shape, dtype=dtype)


def write_safetensors(path: Path, file_dtype: torch.dtype) -> None:
    """Stream a safetensors file tensor by tensor (never the whole state dict in memory)."""
    entries, offset = {}, 0
    specs = list(_manifest_tensors(file_dtype))
    for key, shape, dtype in specs:
        size = torch.Size(shape).numel() * torch.empty(0, dtype=dtype).element_size()
        entries[key] = {"dtype": _SAFETENSORS_DTYPES[dtype], "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header = json.dumps(entries).encode()
    header += b" " * (-len(header) % 8)
    generator = torch.Generator().manual_seed(0)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(header)) + header)
        for _, shape, dtype in specs:
            stream.write(_random(shape, dtype, generator).reshape(-1).view(torch.uint8).numpy().tobytes())


def write_ckpt(path: Path, file_dtype: torch.dtype) -> None:
    """A Lightning-style ``.ckpt`` (weights under ``state_dict``); holds the state dict in memory once."""
    generator = torch.Generator().manual_seed(0)
    state = {key: _random(shape, dtype, generator) for key, shape, dtype in _manifest_tensors(file_dtype)}
    torch.save({"state_dict": state, "global_step": 0}, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=("safetensors", "ckpt"), default="safetensors")
    parser.add_argument("--file-dtype", choices=("float32", "float16"), default="float32")
    parser.add_argument("--workdir", default=None, help="where to write the temporary checkpoint")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        path = Path(workdir) / f"zeronvs_random.{args.format}"
        start = time.perf_counter()
        writer = write_safetensors if args.format == "safetensors" else write_ckpt
        writer(path, getattr(torch, args.file_dtype))
        print(
            f"file: {path.name} {args.file_dtype}, {path.stat().st_size / 2**30:.2f} GiB "
            f"(written in {time.perf_counter() - start:.0f} s)"
        )
        result = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        base, peak, weights, seconds = (float(value) for value in result.stdout.split()[-4:])
    print(f"load_seconds: {seconds:.1f}")
    print(f"loaded_weights_gib (float32): {weights / 2**30:.2f}")
    print(f"rss_after_imports_gib: {base / 2**30:.2f}")
    print(f"peak_rss_gib: {peak / 2**30:.2f}")
    print(f"peak_rss_above_imports / weights: {(peak - base) / weights:.2f}")


if __name__ == "__main__":
    main()
