"""Where a run computes: the process group under torchrun, the device, the precision and the hardware's peak.

Under ``torchrun`` every process is one rank of DistributedDataParallel
(NCCL on CUDA, gloo on CPU), each on its own local GPU; alone, a run takes
``--device`` (auto: CUDA, then MPS, then CPU). ``auto`` precision is bf16
autocast where the device computes bf16 natively, fp32 elsewhere.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed

from ..configs import PRECISIONS
from ..errors import MacedonizerError

PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
              "RTX 4090": 165e12, "RTX 3090": 71e12, "V100": 125e12, "T4": 65e12}
"""Dense bf16 peak FLOP/s by GPU name, for model-FLOPs utilisation."""


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: rank ``rank`` of ``world`` processes (rank 0 is the main one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(requested: str) -> tuple[torch.device, Dist]:
    """The device for ``requested`` and, under torchrun, the process group (each rank on its local GPU)."""
    device = _pick_device(requested, Dist())
    dist = _setup_distributed(device.type)
    if dist.world > 1:
        device = _pick_device(requested, dist)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device, dist


def _setup_distributed(device_type: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.distributed.is_initialized():
        if device_type == "cuda":  # NCCL binds each rank to the current device: set it first
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Dist(torch.distributed.get_rank(), torch.distributed.get_world_size(), local_rank)


def _pick_device(requested: str, dist: Dist) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MacedonizerError("--device cuda was asked for, but no CUDA GPU is available.")
        return torch.device("cuda", dist.local_rank if requested == "cuda" else int(requested.split(":")[1]))
    return torch.device(requested)


def barrier(dist: Dist) -> None:
    """Wait for every process (nothing to wait for alone)."""
    if dist.world > 1:
        torch.distributed.barrier()


def all_sum(values: list[float], dist: Dist, device: torch.device) -> list[float]:
    """``values`` summed over every process (themselves alone); float64, so counts stay exact."""
    if dist.world == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(total)
    return total.tolist()


def finish(dist: Dist) -> None:
    """Wait for every process, then leave the process group."""
    if dist.world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 matrix products in hardware (CUDA with bf16, AMX or AVX-512 BF16 CPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return any(getattr(torch.cpu, probe, lambda: False)()
                   for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return False


def resolve_precision(requested: str, device: torch.device) -> str:
    """``bf16`` or ``fp32`` for ``requested`` (auto, bf16, fp32) on ``device``."""
    if requested not in PRECISIONS:
        raise MacedonizerError(f"Unknown precision {requested!r}: use {', '.join(PRECISIONS)}.")
    if requested == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    if requested == "bf16" and device.type not in ("cuda", "cpu"):
        raise MacedonizerError(f"bf16 autocast is not available on {device.type}; use --precision fp32.")
    return requested


def autocast(device: torch.device, precision: str | None = None):
    """The training step's autocast: bf16 where asked; evaluation passes none (bf16 on CUDA only)."""
    if precision == "bf16" or (precision is None and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def hardware(device: torch.device, dist: Dist) -> str:
    """A line for the model card: what trained the model."""
    count = f"{dist.world} × " if dist.world > 1 else ""
    if device.type == "cuda":
        return f"{count}{torch.cuda.get_device_name(device)}"
    return f"{count}CPU ({torch.get_num_threads()} threads)"


def peak_flops(device: torch.device) -> float | None:
    """The dense bf16 peak FLOP/s of ``device`` where its GPU is in ``PEAK_FLOPS``."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_FLOPS.items():
        if key in name:
            return flops
    return None
