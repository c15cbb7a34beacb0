"""Runs the OpenCV routines that spatter chains (ImageNet-C's water mode) on given inputs, for the test of
`robustness_tests.corruptions._opencv` against cv2 itself.

Executed with the interpreter of the isolated reference environment (``tests/reference_env.py``, which
pins the OpenCV the generator was run with), never imported by the project.

    python opencv_routines.py INPUTS.npz OUTPUT.npz

INPUTS holds ``grey``: uint8 [N, H, W] images (Canny, equalizeHist, filter2D) and ``binary``: uint8
[N, H, W] images whose zeros are the distance transform's sources. OUTPUT gets, per image stack,
``canny`` (cv2.Canny(grey, 50, 150)), ``distance`` (cv2.distanceTransform(binary, DIST_L2, 5)),
``equalized`` (cv2.equalizeHist), ``filtered`` (cv2.filter2D(grey, CV_8U, spatter's kernel)) and
``blurred`` (cv2.blur(distance, (3, 3)) on float32).
"""

import sys

import cv2
import numpy as np

KERNEL = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def main():
    inputs, output = sys.argv[1], sys.argv[2]
    with np.load(inputs) as data:
        grey, binary = data["grey"], data["binary"]
    distance = np.stack([cv2.distanceTransform(b, cv2.DIST_L2, 5) for b in binary])
    np.savez(
        output,
        canny=np.stack([cv2.Canny(g, 50, 150) for g in grey]),
        distance=distance,
        equalized=np.stack([cv2.equalizeHist(g) for g in grey]),
        filtered=np.stack([cv2.filter2D(g, cv2.CV_8U, KERNEL) for g in grey]),
        blurred=np.stack([cv2.blur(d, (3, 3)) for d in distance]),
    )


if __name__ == "__main__":
    main()
