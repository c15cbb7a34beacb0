"""Top-1 error of a model under our corruptions and under the reference generator, on the same images.

    python bench/corruption_top1_fidelity.py --data-dir=../shared/data --images 200 [--threads 1]

The full check (all 1300 images, every corruption) takes hours on a small CPU, most of it the reference's
glass blur (~1 s per image and severity); the JSON output is rewritten after every severity and a rerun with
the same --output resumes where it stopped (rows measured on a different image count are measured again).
`--reference-workers N` runs the reference on N processes, each on its share of the images.

For every corruption (the 15 and the 4 extra) and severity: corrupt the same Resize(256)/CenterCrop(224)
validation images with `robustness_tests.corruptions.corrupt` and with Hendrycks' own functions (the
isolated environment of tests/reference_env.py), pass both through the JPEG quality-85 round trip the
released data went through, and measure the model's top-1 error on each. Prints one row per corruption
(error ours / reference per severity and the difference of the means over severities, in points, with
its standard error from the paired per-image differences), writes
the table to --output as JSON, and ends with `corruption_top1_max_abs_diff: <points>`.

Images whose two corrupted versions are identical pixel for pixel get the same prediction, so they add
exactly 0 to the difference: the reference side is run through the model only for the images that differ
(deterministic corruptions differ at a handful of images, or none). `--difference-only` skips the forward
passes of identical images altogether (no absolute errors then), which makes the check of the
deterministic corruptions on all 1300 images cheap.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
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
    wrong = [torch.zeros(0, dtype=torch.bool)]
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = jpeg_round_trip(images[start : start + batch_size], 85).float().div_(255)
            wrong.append(model(x).argmax(1) != labels[start : start + batch_size])
    return torch.cat(wrong)


def reference(nhwc: np.ndarray, name: str, severity: int, seed: int, frost: Path, workers: int) -> torch.Tensor:
    """The reference's corruption of every image as uint8 [N, 3, H, W]; with several workers, each runs on
    its contiguous share of the images (the reference is single-threaded Python: glass_blur takes ~1 s per
    image), share k seeding its stream with seed + 100 k so that no two shares repeat the same draws."""
    shares = np.array_split(nhwc, max(1, workers))

    def run(k: int) -> np.ndarray:
        job = {"key": "out", "corruption": name, "severity": severity, "seed": seed + 100 * k}
        return run_reference(shares[k], [job], frost)["out"]

    with ThreadPoolExecutor(len(shares)) as pool:
        parts = list(pool.map(run, range(len(shares))))
    return torch.from_numpy(np.concatenate(parts)).permute(0, 3, 1, 2).contiguous()


def main() -> None:
    parser = base_parser(__doc__, batch_size=50)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--corruptions", default=",".join(NAMES + EXTRA))
    parser.add_argument("--output", default="corruption_top1_fidelity.json")
    parser.add_argument("--seed", type=int, default=0,
                        help="ours draws with this seed, the reference with 10 * seed + severity: a replicate")
    parser.add_argument("--reference-workers", type=int, default=1,
                        help="run the reference on this many processes, each on its share of the images "
                             "(share k > 0 seeds its stream with the job's seed + 100 k)")
    parser.add_argument("--difference-only", action="store_true",
                        help="forward only the images whose two versions differ (no absolute errors)")
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
    output = Path(args.output)
    table = {}
    if output.is_file():
        previous = json.loads(output.read_text())
        if previous.get("model") == args.model and previous.get("images") == len(images):
            table = previous["corruptions"]

    def save() -> None:
        text = json.dumps({"model": args.model, "images": len(images), "clean_error": clean, "corruptions": table},
                          indent=1)
        partial = output.with_name(output.name + ".partial")
        partial.write_text(text)
        partial.replace(output)  # atomic: an interrupted run never leaves a torn table

    def fmt(errors: list) -> str:
        return " ".join("  n/a" if e is None else f"{e:5.1f}" for e in errors)

    for name in args.corruptions.split(","):
        start = time.time()
        row = table.setdefault(name, {"ours": [], "reference": [], "diff_points": [], "differing_images": []})
        if "diff_points" not in row:  # a row written before the difference was kept per severity
            row["diff_points"] = [o - r for o, r in zip(row["ours"], row["reference"])]
            row["differing_images"] = [None] * len(row["ours"])
        for s in range(len(row["ours"]) + 1, 6):
            ref = reference(nhwc, name, s, 10 * args.seed + s, data / "frost", args.reference_workers)
            ours = corrupt(images, name, s, seed=args.seed)
            differ = torch.nonzero((ours != ref).flatten(1).any(1)).flatten()
            ours_wrong_at = top1_errors(model, ours[differ], labels[differ], args.batch_size)
            ref_wrong_at = top1_errors(model, ref[differ], labels[differ], args.batch_size)
            paired = torch.zeros(len(images))  # per image: wrong under ours minus wrong under the reference
            paired[differ] = ours_wrong_at.float() - ref_wrong_at.float()
            row["diff_points"].append(100 * paired.mean().item())
            row.setdefault("diff_se_points", []).append(100 * paired.std().item() / len(images) ** 0.5)
            row["differing_images"].append(len(differ))
            if args.difference_only:
                row["ours"].append(None)
                row["reference"].append(None)
            else:
                ours_wrong = top1_errors(model, ours, labels, args.batch_size)
                ref_wrong = ours_wrong.clone()
                ref_wrong[differ] = ref_wrong_at
                row["ours"].append(100 * ours_wrong.float().mean().item())
                row["reference"].append(100 * ref_wrong.float().mean().item())
            row["mean_diff_points"] = float(np.mean(row["diff_points"]))
            if len(row.get("diff_se_points", [])) == len(row["diff_points"]):  # severities are independent draws
                row["mean_diff_se_points"] = float(np.sqrt(np.sum(np.square(row["diff_se_points"]))) / len(row["diff_points"]))
            save()
        print(f"{name:17s} ours {fmt(row['ours'])} | reference {fmt(row['reference'])} | images differing "
              f"{row['differing_images']} | mean diff {row['mean_diff_points']:+.2f} points "
              f"(standard error {row.get('mean_diff_se_points', float('nan')):.2f})  ({time.time() - start:.0f} s)",
              flush=True)
    worst = max(abs(v["mean_diff_points"]) for v in table.values())
    print(f"corruption_top1_max_abs_diff: {worst:.2f}")


if __name__ == "__main__":
    main()
