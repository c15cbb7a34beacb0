"""Runs Hendrycks' own ImageNet-C functions (PyPI ``imagenet-c`` 0.0.3) on a batch of images.

This script is executed with the interpreter of an isolated reference environment (see
``tests/reference_env.py``), never imported by the project: the reference needs Wand/ImageMagick,
numpy < 2 and scikit-image < 0.20. It reads ``--inputs`` (npz with ``images``: uint8 [N, 224, 224, 3])
and writes ``--output`` (npz with ``images``: uint8 [N, 224, 224, 3], after ``np.uint8`` as the
generator does before saving, and ``seconds``: the time spent in the corruption function per image).
"""

import argparse
import os
import time

import numpy as np
from PIL import Image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--corruption", required=True)
    parser.add_argument("--severity", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frost-dir", default=None)
    parser.add_argument("--angle", type=float, default=None, help="fix motion_blur's random angle")
    args = parser.parse_args()

    import imagenet_c.corruptions as reference

    if args.frost_dir:
        # The wheel ships without the frost textures; its frost() looks them up next to the module.
        names = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"]
        paths = [os.path.join(args.frost_dir, name) for name in names]
        reference.resource_filename = lambda _package, name: paths[names.index(os.path.basename(name))]
    if args.angle is not None:
        uniform = np.random.uniform
        reference.np.random.uniform = lambda low=0.0, high=1.0, size=None: (
            args.angle if (low, high, size) == (-45, 45, None) else uniform(low, high, size)
        )

    function = getattr(reference, args.corruption)
    images = np.load(args.inputs)["images"]
    np.random.seed(args.seed)
    out, seconds = [], []
    for image in images:
        pil = Image.fromarray(image)
        start = time.perf_counter()
        result = function(pil, args.severity)
        seconds.append(time.perf_counter() - start)
        out.append(np.uint8(np.asarray(result)))
    np.savez(args.output, images=np.stack(out), seconds=np.asarray(seconds))


if __name__ == "__main__":
    main()
