"""Which device a process runs on, decided without importing torch where possible.

The xdist controller must hand each worker its GPU before CUDA initialises in that worker, so
counting GPUs here uses `CUDA_VISIBLE_DEVICES` and `nvidia-smi`, never torch.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .errors import UsageError


def visible_gpus() -> list[str] | None:
    """GPU ids this process may use (as CUDA_VISIBLE_DEVICES entries), or None if unknowable.

    An existing `CUDA_VISIBLE_DEVICES` is honoured as the user's choice; otherwise `nvidia-smi -L`
    is asked. None means neither source exists, and torch decides later.
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = []
        for entry in (e.strip() for e in env.split(",")):
            if not entry or entry.startswith("-"):
                break  # CUDA ignores everything from the first invalid entry on
            ids.append(entry)
        return ids
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [str(i) for i, line in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]


def worker_gpu(worker_index: int, gpus: list[str]) -> str:
    """The GPU of xdist worker `worker_index`: round robin over the visible ones."""
    return gpus[worker_index % len(gpus)]


def check_requested(device: str) -> None:
    """Fail early and clearly on `--device cuda` where no GPU is visible (torch-free)."""
    if device.startswith("cuda") and visible_gpus() == []:
        raise UsageError(
            f"--device {device} was requested but no GPU is visible "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}, or nvidia-smi lists none). "
            "Use --device cpu, or --device auto to take a GPU when there is one."
        )


def resolve(device: str) -> str:
    """'auto' -> 'cuda' if torch sees a GPU else 'cpu'; 'cuda...' is checked against torch."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(
            f"--device {device} was requested but torch sees no CUDA device "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}). Use --device cpu or auto."
        )
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"--device {device!r} is not a torch device ({exc})") from None
    return device


def describe(device: str) -> str:
    """'cuda:0 (NVIDIA H200)' or 'cpu (2 threads)': for provenance."""
    import torch

    d = torch.device(device)
    if d.type == "cuda":
        index = d.index if d.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"{d.type} ({torch.get_num_threads()} threads)"
