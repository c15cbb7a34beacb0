"""Per-corruption throughput of our batched kernels vs the reference generator's functions, as ratios.

    python bench/corruptions.py --data-dir=../shared/data [--batch-size 64] [--severity 3] [--device cpu]
                                [--threads 1]

The same 224x224 validation images (Resize(256), CenterCrop(224)) go through
`robustness_tests.corruptions.corrupt` (one batched call, warmed up once) and through Hendrycks' own
functions (PyPI imagenet-c 0.0.3, image by image, in the isolated environment of tests/reference_env.py,
timed inside that process around each call up to its uint8 result). Prints per corruption: reference
ms/image, ours ms/image, the speedup; the last line is `corruptions_speedup_geomean: <x>`.

Equal resources by default: the reference is single-threaded Python, so ours runs on one CPU thread too
(`--threads 1`); `--threads N` shows what more cores add (the reference would scale by running N
processes, as make_imagenet_c.py's data loader workers do).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import base_parser, sync

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_env import run_reference  # noqa: E402

from robustness_tests.corruptions import EXTRA, NAMES, corrupt  # noqa: E402
from robustness_tests.data.decode import decode_image  # noqa: E402
from robustness_tests.data.imagenet import load_imagenet_val  # noqa: E402
from robustness_tests.paths import set_data_mirror  # noqa: E402
from robustness_tests.zoo import Preprocessing  # noqa: E402


def main() -> None:
    parser = base_parser(__doc__, batch_size=64)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--reference-images", type=int, default=None,
                        help="images timed in the reference (default: the batch; glass_blur: 8, it takes ~1 s each)")
    parser.add_argument("--corruptions", default=",".join(NAMES + EXTRA))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for ours (default 1, as the reference)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = Path(args.data_dir)
    set_data_mirror(data)
    subset = load_imagenet_val(data / "imagenet-val-1300").take(args.batch_size, seed=0)
    images = torch.from_numpy(np.stack([decode_image(s.path, Preprocessing()) for s in subset.samples]))
    x = images.to(args.device)
    ratios = []
    print(f"batch {len(x)}, severity {args.severity}, device {args.device}, {torch.get_num_threads()} threads")
    print(f"{'corruption':18s} {'reference':>12s} {'ours':>10s} {'speedup':>8s}")
    for name in args.corruptions.split(","):
        n_ref = args.reference_images or (8 if name == "glass_blur" else len(images))
        nhwc = images[:n_ref].permute(0, 2, 3, 1).numpy()
        result = run_reference(nhwc, [{"key": "r", "corruption": name, "severity": args.severity}], data / "frost")
        reference_ms = 1000 * float(np.mean(result["r.seconds"]))
        corrupt(x[:2], name, args.severity)  # warm-up: caches (filter matrices, textures)
        best = math.inf
        for _ in range(args.repeats):
            sync(args.device)
            start = time.perf_counter()
            corrupt(x, name, args.severity, seed=1)
            sync(args.device)
            best = min(best, time.perf_counter() - start)
        ours_ms = 1000 * best / len(x)
        ratios.append(reference_ms / ours_ms)
        print(f"{name:18s} {reference_ms:10.2f}ms {ours_ms:8.2f}ms {ratios[-1]:7.1f}x", flush=True)
    print(f"slowest relative to the reference: {min(ratios):.2f}x")
    print(f"corruptions_speedup_geomean: {math.exp(np.mean(np.log(ratios))):.2f}")


if __name__ == "__main__":
    main()
