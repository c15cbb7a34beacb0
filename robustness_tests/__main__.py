"""Command line: `python -m robustness_tests <command>`.

    models              the registered models: source, preprocessing, license, weights found?
    download NAME...    fetch pretrained weights into the timm / torchvision caches (needs internet)
    report DIR          re-render DIR/summary.md, DIR/index.html and the figures from DIR/results.json
    make-imagenet-c     write generated ImageNet-C in the released layout (resumable)

Claims themselves run under pytest: `pytest -m validation --model NAME`.
"""

from __future__ import annotations

import argparse
import sys

from . import zoo
from .errors import RobustnessTestsError


def _models(_: argparse.Namespace) -> int:
    rows = [("name", "source", "input", "preprocessing", "license", "weights")]
    for name in zoo.names():
        s = zoo.spec(name)
        try:
            found = str(zoo.find_weights(name))
        except RobustnessTestsError:
            found = "missing: python -m robustness_tests download " + name
        rows.append((name, s.source, str(s.input_size), s.preprocessing.key, s.license, found))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _download(args: argparse.Namespace) -> int:
    import torch

    for name in args.names:
        s = zoo.spec(name)
        if s.source == "embedded":
            print(f"{name}: embedded in its PyPI package, nothing to download")
            continue
        if s.source == "wsl":
            url = f"https://download.pytorch.org/models/{s.extra['hub_file']}"
            torch.hub.load_state_dict_from_url(url, progress=True, check_hash=True)
        elif s.source == "timm":
            import timm

            timm.create_model(s.weights, pretrained=True)
        elif s.source == "torchvision":
            import torchvision

            enum_name, member = s.weights.split(".")
            getattr(getattr(torchvision.models, enum_name), member).get_state_dict(progress=True)
        else:
            print(f"{name}: built by its own callable; nothing to download", file=sys.stderr)
            continue
        print(f"{name}: {zoo.find_weights(name)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .report import render_report

    directory = Path(args.directory)
    if not (directory / "results.json").is_file():
        print(f"error: {directory / 'results.json'} does not exist (write one with pytest --report-dir {directory})",
              file=sys.stderr)
        return 2
    for path in render_report(directory):
        print(path)
    return 0


def _make_imagenet_c(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .corruptions import EXTRA, NAMES
    from .make_imagenet_c import make_imagenet_c

    from .paths import set_data_mirror

    if args.data_dir:
        set_data_mirror(args.data_dir)
    corruptions = tuple(args.corruptions.split(",")) if args.corruptions else NAMES + EXTRA
    severities = tuple(int(s) for s in args.severities.split(","))
    counts = make_imagenet_c(Path(args.src), Path(args.dst), subset=args.subset, corruptions=corruptions,
                             severities=severities, seed=args.seed, device=args.device, batch_size=args.batch_size)
    print(f"wrote {counts['written']} images, {counts['skipped']} already there, under {args.dst}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m robustness_tests", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the registered models").set_defaults(run=_models)
    download = sub.add_parser("download", help="fetch pretrained weights into the caches (needs internet)")
    download.add_argument("names", nargs="+", metavar="NAME")
    download.set_defaults(run=_download)
    report = sub.add_parser("report", help="re-render the reports of a results.json")
    report.add_argument("directory", metavar="DIR")
    report.set_defaults(run=_report)
    make = sub.add_parser("make-imagenet-c", help="write generated ImageNet-C to disk in the released layout")
    make.add_argument("--src", required=True, help="ImageNet validation (<src>/<wnid>/*.JPEG or flat + labels)")
    make.add_argument("--dst", required=True)
    make.add_argument("--subset", type=int, default=None, help="a stratified subset of the images")
    make.add_argument("--corruptions", default=None, help="comma-separated names (default: all 19)")
    make.add_argument("--severities", default="1,2,3,4,5")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--device", default="cpu")
    make.add_argument("--batch-size", type=int, default=32)
    make.add_argument("--data-dir", default=None, help="data mirror holding frost/ (default: $ROBUSTNESS_TESTS_DATA, "
                      "else fetch the textures with checksums)")
    make.set_defaults(run=_make_imagenet_c)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except RobustnessTestsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
