"""Top-1 error of a model under our corruptions and under the reference generator, on the same images.

    python bench/corruption_top1_fidelity.py --data-dir=../shared/data --images 200 [--threads 1]

For every corruption (the 15 and the 4 extra) and severity: corrupt the same Resize(256)/CenterCrop(224)
validation images with `robustness_tests.corruptions.corrupt` and with Hendrycks' own functions (the
isolated environment of tests/reference_env.py), pass both through the JPEG quality-85 round trip the
released data went through, and measure the model's top-1 error on each. Prints one row per corruption
(error ours / reference per severity and the difference of the means over severities, in points), writes
the table to --output as JSON, and ends with `corruption_top1_max_abs_diff: <points>`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import base_parser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_env import run_reference  # noqa: E402

from robustness_tests import zoo  # noqa: E402
from robustness_tests.corruptions import EXTRA, NAMES, corrupt  # noqa: E402
from robustness_tests.corruptions.digital import jpeg_round_trip  # noqa: E402
from robustness_tests.data.decode import decode_image  # noqa: E402
from robustness_tests.data.imagenet import load_imagenet_val  # noqa: E402
from robustness_tests.paths import set_data_mirror  # noqa: E402
from robustness_tests.zoo import Preprocessing  # noqa: E402


def top1_errors(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> torch.Tensor:
    wrong = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = jpeg_round_trip(images[start : start + batch_size], 85).float().div_(255)
            wrong.append(model(x).argmax(1) != labels[start : start + batch_size])
    return torch.cat(wrong)


def main() -> None:
    parser = base_parser(__doc__, batch_size=50)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--corruptions", default=",".join(NAMES + EXTRA))
    parser.add_argument("--output", default="corruption_top1_fidelity.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data_dir)
    set_data_mirror(data)  # frost textures
    subset = load_imagenet_val(data / "imagenet-val-1300").take(args.images, seed=0)
    images = torch.from_numpy(np.stack([decode_image(s.path, Preprocessing()) for s in subset.samples]))
    labels = torch.tensor([s.label for s in subset.samples])
    model = zoo.load(args.model)
    nhwc = images.permute(0, 2, 3, 1).numpy()
    clean = top1_errors(model, images, labels, args.batch_size).float().mean().item()
    print(f"{args.model} on {len(images)} images, clean error (after JPEG q85) {100 * clean:.2f}%", flush=True)
    table = {}
    for name in args.corruptions.split(","):
        start = time.time()
        jobs = [{"key": str(s), "corruption": name, "severity": s, "seed": s} for s in range(1, 6)]
        reference = run_reference(nhwc, jobs, data / "frost")
        ours_err, ref_err = [], []
        for s in range(1, 6):
            ours = corrupt(images, name, s, seed=0)
            ref = torch.from_numpy(reference[str(s)]).permute(0, 3, 1, 2).contiguous()
            ours_err.append(100 * top1_errors(model, ours, labels, args.batch_size).float().mean().item())
            ref_err.append(100 * top1_errors(model, ref, labels, args.batch_size).float().mean().item())
        diff = float(np.mean(ours_err) - np.mean(ref_err))
        table[name] = {"ours": ours_err, "reference": ref_err, "mean_diff_points": diff}
        print(f"{name:17s} ours {' '.join(f'{e:5.1f}' for e in ours_err)} | reference "
              f"{' '.join(f'{e:5.1f}' for e in ref_err)} | mean diff {diff:+.2f} points  ({time.time() - start:.0f} s)",
              flush=True)
        Path(args.output).write_text(json.dumps({"model": args.model, "images": len(images), "clean_error": clean,
                                                 "corruptions": table}, indent=1))
    worst = max(abs(v["mean_diff_points"]) for v in table.values())
    print(f"corruption_top1_max_abs_diff: {worst:.2f}")


if __name__ == "__main__":
    main()
