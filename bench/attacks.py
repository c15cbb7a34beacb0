"""PGD-10 throughput: ours vs torchattacks' PGD, vs ten bare forward+backward passes, vs a per-image loop.

    python bench/attacks.py --data-dir=../shared/data [--model efficientnet_lite0] [--batch-size 32]

All on the same model, images, batch size, device and threads; untargeted L-inf PGD, eps 0.03,
step 2/255, random start. "bare" is ten forward+backward passes of the batch and nothing else: the
floor any PGD-10 pays. "per-image" runs the same attack one image at a time, as foolbox 1.8 did in the
paper. Runs alternate and the best of each is kept. The last line is
`pgd_speedup_vs_torchattacks: <ours images/s / torchattacks images/s>`.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchattacks
from common import base_parser, sync

from robustness_tests import zoo
from robustness_tests.attacks import standard_attack
from robustness_tests.data.batches import iter_batches
from robustness_tests.data.imagenet import load_imagenet_val

EPS, STEP, STEPS = 0.03, 2 / 255, 10


def main() -> None:
    parser = base_parser(__doc__, batch_size=32)
    parser.add_argument("--per-image", type=int, default=4, help="images timed in the per-image loop")
    args = parser.parse_args()

    model = zoo.load(args.model, device=args.device)
    data = load_imagenet_val(Path(args.data_dir) / "imagenet-val-1300").take(args.batch_size)
    batch = next(iter_batches(data, model.spec.preprocessing, args.batch_size))
    x = (torch.from_numpy(batch.images).float() / 255).to(args.device)
    y = torch.from_numpy(batch.labels).to(args.device)
    theirs_attack = torchattacks.PGD(model, eps=EPS, alpha=STEP, steps=STEPS, random_start=True)

    def ours():
        standard_attack(model, x, y, eps=EPS, steps=STEPS, step_size=STEP)

    def theirs():
        theirs_attack(x, y)

    def bare():
        for _ in range(STEPS):
            xi = x.detach().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(model(xi), y, reduction="sum"), xi)

    def per_image():
        for i in range(args.per_image):
            standard_attack(model, x[i : i + 1], y[i : i + 1], eps=EPS, steps=STEPS, step_size=STEP)

    runs = {"ours": ours, "torchattacks": theirs, "bare": bare, "per_image": per_image}
    images = {"ours": len(x), "torchattacks": len(x), "bare": len(x), "per_image": args.per_image}
    for fn in runs.values():  # warm-up: kernels, allocator
        fn()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):
        for name, fn in runs.items():
            sync(args.device)
            t = time.perf_counter()
            fn()
            sync(args.device)
            best[name] = min(best[name], time.perf_counter() - t)
    rate = {name: images[name] / best[name] for name in runs}
    print(f"model {args.model}, device {args.device}, threads {torch.get_num_threads()}, batch {len(x)}, "
          f"PGD-{STEPS} eps {EPS}")
    for name in runs:
        print(f"{name:>13}: {rate[name]:8.2f} images/s")
    print(f"ours / bare forward+backward: {rate['ours'] / rate['bare']:.3f}")
    print(f"ours / per-image loop: {rate['ours'] / rate['per_image']:.2f}x")
    print(f"pgd_speedup_vs_torchattacks: {rate['ours'] / rate['torchattacks']:.3f}")


if __name__ == "__main__":
    main()
