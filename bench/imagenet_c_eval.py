"""Generated ImageNet-C evaluation throughput vs the bare model forward on the same corrupted images.

    python bench/imagenet_c_eval.py --data-dir=../shared/data [--images 256] [--batch-size 64]
                                    [--corruptions gaussian_noise,defocus_blur,...]

For each corruption at severity 3: `evaluate` with the on-the-fly `CorruptionTransform` (decoded-image
cache warm; corrupt, JPEG q85 round trip, forward, outcomes), "ahead" with the next batch corrupted in a
background thread while the model runs, "in order" with corruption and forward taking turns; "bare" is the
model's forward alone over the same corrupted images, prepared beforehand. Prints per corruption the three
times and, as the last lines, `imagenet_c_ahead_gain: <in order / ahead>` and
`imagenet_c_eval_overhead: <bare / default>` (the default overlaps on accelerators only; 1 = corruption is
free; higher is better).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from common import base_parser, sync

from robustness_tests import zoo
from robustness_tests.data.batches import iter_batches
from robustness_tests.data.imagenet import load_imagenet_val
from robustness_tests.evaluate import Settings, evaluate
from robustness_tests.imagenet_c import PROTOCOL, CorruptionTransform
from robustness_tests.paths import set_data_mirror

DEFAULT = "gaussian_noise,defocus_blur,glass_blur,snow,contrast,elastic_transform,jpeg_compression"


def main() -> None:
    parser = base_parser(__doc__, batch_size=64)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--corruptions", default=DEFAULT)
    args = parser.parse_args()
    set_data_mirror(Path(args.data_dir))
    dataset = load_imagenet_val(Path(args.data_dir) / "imagenet-val-1300").take(args.images, seed=0)
    model = zoo.load(args.model, device=args.device)
    settings = Settings(device=args.device, batch_size=args.batch_size)
    clean = torch.from_numpy(np.concatenate([b.images for b in iter_batches(dataset, PROTOCOL, args.batch_size)]))
    totals = {"ahead": 0.0, "in order": 0.0, "bare": 0.0}
    print(f"model {args.model}, device {args.device}, threads {torch.get_num_threads()}, batch {args.batch_size}, "
          f"{len(dataset)} images, severity 3")
    for name in args.corruptions.split(","):
        corrupted = [CorruptionTransform(name, 3, seed=0)(clean[i : i + args.batch_size].to(args.device), None, i)
                     for i in range(0, len(clean), args.batch_size)]
        best = dict.fromkeys(totals, float("inf"))
        for _ in range(args.repeats):
            for label, overlap in (("ahead", True), ("in order", False)):
                sync(args.device)
                start = time.perf_counter()
                evaluate(model, dataset, settings, transform=CorruptionTransform(name, 3, seed=0),
                         preprocessing=PROTOCOL, overlap=overlap)
                sync(args.device)
                best[label] = min(best[label], time.perf_counter() - start)
            start = time.perf_counter()
            with torch.inference_mode():
                for x in corrupted:
                    model(x.float().div_(255))
            sync(args.device)
            best["bare"] = min(best["bare"], time.perf_counter() - start)
        for label in totals:
            totals[label] += best[label]
        print(f"{name:18s} ahead {best['ahead']:6.2f}s  in order {best['in order']:6.2f}s  bare {best['bare']:6.2f}s",
              flush=True)
    default = totals["in order"] if torch.device(args.device).type == "cpu" else totals["ahead"]
    print(f"imagenet_c_ahead_gain: {totals['in order'] / totals['ahead']:.3f}")
    print(f"imagenet_c_eval_overhead: {totals['bare'] / default:.3f}")


if __name__ == "__main__":
    main()
