"""Generated ImageNet-P evaluation throughput vs the bare model forward on the same frames, as a ratio.

    python bench/perturbations.py --data-dir=../shared/data [--videos 4] [--batch-size 64]

"ours" is `robustness_tests.imagenet_p.sequence_outcomes` on generated sequences for the 10 ImageNet-P
perturbations (decode, frame generation on the device, forward, prediction and ordinal top-5 per frame);
"bare" is the same model's forward over the same frames, generated beforehand and held in memory, with
the same batch size, device and threads. The last line is
`perturbation_eval_overhead: <bare time / ours time>` (1 = generation is free; higher is better).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from common import base_parser, sync

from robustness_tests import perturbations as P
from robustness_tests import zoo
from robustness_tests.data.decode import decode_image
from robustness_tests.data.imagenet import load_imagenet_val
from robustness_tests.evaluate import Settings
from robustness_tests.imagenet_p import ImageNetP, sequence_outcomes


def main() -> None:
    parser = base_parser(__doc__, batch_size=64)
    parser.add_argument("--videos", type=int, default=4)
    args = parser.parse_args()
    model = zoo.load(args.model, device=args.device)
    clean = load_imagenet_val(Path(args.data_dir) / "imagenet-val-1300").take(args.videos, seed=0)
    source = ImageNetP("generated", clean=clean)
    settings = Settings(device=args.device, batch_size=args.batch_size)
    images = torch.from_numpy(np.stack([decode_image(s.path, P.INPUT) for s in clean.samples])).to(args.device)
    ours_total = bare_total = 0.0
    for name in P.PERTURBATIONS:
        frames = P.sequence(images, name).reshape(-1, 3, 224, 224)
        best_ours = best_bare = float("inf")
        for _ in range(args.repeats):
            sync(args.device)
            start = time.perf_counter()
            sequence_outcomes(model, source, clean, name, 1, settings)
            sync(args.device)
            best_ours = min(best_ours, time.perf_counter() - start)
            start = time.perf_counter()
            with torch.inference_mode():
                for i in range(0, len(frames), args.batch_size):
                    model(frames[i : i + args.batch_size].float().div_(255))
            sync(args.device)
            best_bare = min(best_bare, time.perf_counter() - start)
        ours_total += best_ours
        bare_total += best_bare
        print(f"{name:15s} {len(frames)} frames: ours {len(frames) / best_ours:6.1f} frames/s, bare "
              f"{len(frames) / best_bare:6.1f} frames/s, ratio {best_bare / best_ours:.3f}", flush=True)
    print(f"perturbation_eval_overhead: {bare_total / ours_total:.3f}")


if __name__ == "__main__":
    main()
