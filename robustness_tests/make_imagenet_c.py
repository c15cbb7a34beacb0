"""`python -m robustness_tests make-imagenet-c`: write generated ImageNet-C to disk in the released layout.

`<dst>/<corruption>/<severity>/<wnid>/<file stem>.JPEG`: Resize(256), CenterCrop(224), the corruption
(on --device, batched), np.uint8 truncation, then PIL JPEG quality 85 with optimize=True, as
make_imagenet_c.py saves. Each file is written atomically and existing files are skipped, so an
interrupted run resumes where it stopped; per-image randomness comes from (seed, corruption, severity,
image index), so a resumed run writes the same pixels an uninterrupted one would.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

from .atomic import atomic_write
from .corruptions import EXTRA, NAMES, SEVERITIES, corrupt, get
from .data.batches import iter_batches
from .data.classes import wnids
from .data.imagenet import load_imagenet_val
from .imagenet_c import PROTOCOL, RELEASED_QUALITY


def target(dst: Path, corruption: str, severity: int, sample) -> Path:
    return dst / corruption / str(severity) / wnids()[sample.label] / (Path(sample.path).stem + ".JPEG")


def make_imagenet_c(src: Path, dst: Path, *, subset: int | None = None, corruptions=NAMES + EXTRA,
                    severities=SEVERITIES, seed: int = 0, device: str = "cpu", batch_size: int = 32,
                    log=print) -> dict[str, int]:
    import torch
    from PIL import Image

    for name in corruptions:
        get(name)  # unknown names fail before any work
    dataset = load_imagenet_val(src).take(subset, seed=seed)
    written = skipped = 0
    for corruption in corruptions:
        for severity in severities:
            started = time.perf_counter()
            todo = [i for i, s in enumerate(dataset.samples) if not target(dst, corruption, severity, s).exists()]
            skipped += len(dataset) - len(todo)
            if not todo:
                continue
            part = replace(dataset, samples=tuple(dataset.samples[i] for i in todo))
            for batch in iter_batches(part, PROTOCOL, batch_size):
                images = torch.from_numpy(batch.images).to(device)
                indices = todo[batch.start : batch.start + len(images)]
                out = corrupt(images, corruption, severity, seed=seed, indices=indices).cpu()
                for k, index in enumerate(indices):
                    path = target(dst, corruption, severity, dataset.samples[index])
                    path.parent.mkdir(parents=True, exist_ok=True)
                    buffer = io.BytesIO()
                    Image.fromarray(out[k].permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=RELEASED_QUALITY,
                                                                           optimize=True)
                    with atomic_write(path) as fh:
                        fh.write(buffer.getvalue())
                    written += 1
            log(f"{corruption}/{severity}: {len(todo)} images in {time.perf_counter() - started:.1f} s")
    return {"written": written, "skipped": skipped}
