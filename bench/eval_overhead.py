"""End-to-end throughput of the evaluation loop vs the bare model forward, as a ratio.

    python bench/eval_overhead.py --data-dir=../shared/data [--model efficientnet_lite0] [--images 1300]

"ours" is `robustness_tests.evaluate.evaluate` on the 1300 shared validation images with the
decoded-image cache warm (cached uint8 reads, background prefetch, host->device copy, the [0,1]
conversion, the non-finite check and the per-image outcomes). "bare" is the same model's forward
on the same images already decoded into one in-memory tensor, with the same batch size, device and
threads. Runs alternate (ours, bare, ours, bare, ...) and the best of each is kept, so both see
the same machine state. The last line is `eval_overhead: <ours / bare>`, higher is better.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import base_parser, sync

from robustness_tests import zoo
from robustness_tests.data.batches import iter_batches
from robustness_tests.data.imagenet import load_imagenet_val
from robustness_tests.evaluate import Settings, evaluate


def bare_forward(model, images: torch.Tensor, batch_size: int, device: str) -> None:
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device).float().div_(255)
            model(x)
    sync(device)


def main() -> None:
    parser = base_parser(__doc__, batch_size=64)
    parser.add_argument("--images", type=int, default=None, help="use a stratified subset (default: all 1300)")
    args = parser.parse_args()

    dataset = load_imagenet_val(Path(args.data_dir) / "imagenet-val-1300").take(args.images)
    model = zoo.load(args.model, device=args.device)
    settings = Settings(device=args.device, batch_size=args.batch_size)
    # Warm the decoded-image cache, and keep the decoded tensor for the bare forward.
    decoded = torch.from_numpy(np.concatenate(
        [b.images for b in iter_batches(dataset, model.spec.preprocessing, args.batch_size)]))
    if args.device.startswith("cuda"):
        decoded = decoded.pin_memory()
    bare_forward(model, decoded[: args.batch_size], args.batch_size, args.device)  # warm-up

    ours_best = bare_best = float("inf")
    for r in range(args.repeats):
        t = time.perf_counter()
        evaluate(model, dataset, settings)
        ours_best = min(ours_best, time.perf_counter() - t)
        t = time.perf_counter()
        bare_forward(model, decoded, args.batch_size, args.device)
        bare_best = min(bare_best, time.perf_counter() - t)
        print(f"repeat {r}: ours {len(dataset) / ours_best:.1f} img/s, bare {len(dataset) / bare_best:.1f} img/s",
              file=sys.stderr)
    print(f"model {args.model}, device {args.device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch_size}, images {len(dataset)}")
    print(f"ours: {len(dataset) / ours_best:.1f} images/s   bare forward: {len(dataset) / bare_best:.1f} images/s")
    print(f"eval_overhead: {bare_best / ours_best:.3f}")


if __name__ == "__main__":
    main()
