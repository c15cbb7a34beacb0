"""Runs Hendrycks' own ImageNet-C functions (PyPI ``imagenet-c`` 0.0.3, the functions of
make_imagenet_c.py) on a batch of images, for the fidelity tests and benchmarks.

Executed with the interpreter of the isolated reference environment (``tests/reference_env.py``), never
imported by the project: the reference needs Wand/ImageMagick, numpy < 2 and scikit-image < 0.20.

    python imagenet_c_reference.py INPUTS.npz JOBS.json OUTPUT.npz [--frost-dir DIR]

INPUTS holds ``images``: uint8 [N, H, W, 3]. JOBS is a list of {"key", "corruption", "severity", "seed",
optional "angle" (fixes motion_blur's random angle)}. OUTPUT gets, per job, ``<key>``: uint8 [N, H, W, 3]
after ``np.uint8`` as the generator applies before saving, and ``<key>.seconds``: time per image spent
in the corruption function up to its uint8 result.
"""

import argparse
import json
import os
import time

import numpy as np
from PIL import Image

FROST_FILES = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("inputs")
    parser.add_argument("jobs")
    parser.add_argument("output")
    parser.add_argument("--frost-dir", default=None)
    args = parser.parse_args()

    import imagenet_c.corruptions as reference

    if args.frost_dir:
        # The wheel ships without the textures; its frost() looks them up beside the module.
        paths = {name: os.path.join(args.frost_dir, name) for name in FROST_FILES}
        reference.resource_filename = lambda _package, name: paths[os.path.basename(name)]
    draw_uniform = np.random.uniform
    fixed = {}

    def uniform(low=0.0, high=1.0, size=None):
        if "angle" in fixed and size is None:
            return fixed["angle"]
        return draw_uniform(low, high, size)

    reference.np.random.uniform = uniform

    images = np.load(args.inputs)["images"]
    with open(args.jobs) as fh:
        jobs = json.load(fh)
    results = {}
    for job in jobs:
        function = getattr(reference, job["corruption"])
        fixed.clear()
        if job.get("angle") is not None:
            fixed["angle"] = float(job["angle"])
        np.random.seed(job.get("seed", 0))
        out, seconds = [], []
        for image in images:
            start = time.perf_counter()
            # timed up to the uint8 array the generator saves: jpeg_compression returns a lazily decoded
            # PIL image, whose decoding would otherwise fall outside the timer
            result = np.uint8(np.asarray(function(Image.fromarray(image), job["severity"])))
            seconds.append(time.perf_counter() - start)
            out.append(result)
        results[job["key"]] = np.stack(out)
        results[job["key"] + ".seconds"] = np.asarray(seconds)
    np.savez(args.output, **results)


if __name__ == "__main__":
    main()
