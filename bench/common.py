"""What the benchmarks share: their common options and a device sync for honest timings."""

from __future__ import annotations

import argparse
import os

import torch


def base_parser(doc: str, batch_size: int) -> argparse.ArgumentParser:
    """--data-dir, --model, --device, --batch-size and --repeats, with the script's docstring as help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("ROBUSTNESS_TESTS_DATA", "../shared/data"))
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--repeats", type=int, default=2)
    return parser


def sync(device: str) -> None:
    """Wait for queued GPU work, so a timer measures it (a no-op on the CPU)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
