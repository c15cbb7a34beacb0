"""Reports: `results.json` (canonical), the terminal summary table, provenance.

`results.json` is written by the pytest controller only, atomically, from the claim records the
tests attached to their reports.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import atomic_write

SCHEMA_VERSION = 1
PACKAGES = ("robustness_tests", "torch", "torchvision", "timm", "numpy", "pillow", "scipy", "pytest", "pytest-xdist")
VERDICT_ORDER = ("violated", "consistent", "confirmed", "measured")


def package_versions() -> dict[str, str | None]:
    """Installed versions, read from metadata (imports nothing)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(where: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=10, check=False,
    ).stdout.strip()
    return result.stdout.strip() + ("-dirty" if dirty else "")


def provenance(records: list[dict[str, Any]], *, seed: int, rootdir: Path, settings: dict[str, Any]) -> dict[str, Any]:
    details = [r.get("details") or {} for r in records]
    sources = sorted({d["source"] for d in details if isinstance(d.get("source"), str)})
    deviations = {d["deviation"] for d in details if isinstance(d.get("deviation"), str)}
    deviations |= {s for s in sources if "deviation" in s}
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "git_commit": git_commit(rootdir),
        "devices": sorted({r["device"] for r in records if r.get("device")}),
        "seed": seed,
        "settings": settings,
        "datasets": [json.loads(d) for d in sorted(
            {json.dumps(r["dataset"], sort_keys=True) for r in records if r.get("dataset")})],
        "data_sources": sources,  # released files or generated on the fly, and how
        "deviations": sorted(deviations),  # from the reference protocols, as the measurements declared them
    }


def write_results(path: Path, records: list[dict[str, Any]], prov: dict[str, Any],
                  comparisons: list[dict[str, Any]] | None = None) -> None:
    doc = {"schema_version": SCHEMA_VERSION, "provenance": prov, "claims": records,
           "comparisons": comparisons or []}
    with atomic_write(path, "w") as fh:
        json.dump(doc, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")


def verdict_counts(records: Iterable[dict[str, Any]]) -> Counter:
    return Counter(r["verdict"] for r in records)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def summary_lines(records: list[dict[str, Any]]) -> list[str]:
    """A compact fixed-width table, one row per claim record, grouped by model."""
    header = ("model", "claim", "metric", "where", "value", "CI", "bound", "published", "verdict")
    rows = [header]
    for r in sorted(records, key=lambda r: (r["model"], r["metric"], r.get("claim") or "", str(r.get("context")))):
        bound = f"{r['op']} {_fmt(r['bound'])}" if r.get("op") else "-"
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        where = " ".join(f"{k}={v}" for k, v in sorted((r.get("context") or {}).items()))
        rows.append((r["model"], r.get("claim") or "-", r["metric"], where or "-", _fmt(r["value"]), ci, bound,
                     _fmt(r.get("published")), r["verdict"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    counts = verdict_counts(records)
    lines.append("verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICT_ORDER))
    return lines


HUMAN_SHAPE_BIAS = (0.958, 0.919, 0.987)  # mean and range over Geirhos et al.'s 10 subjects (REFERENCE.md)


def write_figures(report_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
    """Figures derived from the claim records; returns the files written."""
    written = []
    shape = [r for r in records if r["metric"] == "shape_bias.shape_bias" and (r.get("details") or {}).get("per_category")]
    if shape:
        written.append(shape_bias_figure(shape, report_dir / "shape_bias.png"))
    for along in ("steps", "eps"):
        path = pgd_figure(records, report_dir / f"pgd_vs_{along}.png", along=along)
        if path is not None:
            written.append(path)
    for make in (imagenet_c_figure, imagenet_p_figure):
        path = make(records, report_dir)
        if path is not None:
            written.append(path)
    return written


def _per_key_figure(rows: list[dict[str, Any]], key: str, order: tuple[str, ...], path: Path, *, ylabel: str,
                    title: str, reference: dict[str, float] | None = None, reference_label: str = "",
                    note: str | None = None) -> Path:
    """One point per (model, key) with its interval, the published values as open squares, and an
    optional reference series (AlexNet): the shared shape of the ImageNet-C and -P figures."""
    plt = _pyplot()
    keys = [k for k in order if any((r.get("context") or {}).get(key) == k for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * len(keys) + 2), 3.8))
    models = sorted({r["model"] for r in rows})
    width = 0.7 / max(len(models), 1)
    for m, model in enumerate(models):
        points = {r["context"][key]: r for r in rows if r["model"] == model}  # duplicates hold the same numbers
        xs = [i + (m - (len(models) - 1) / 2) * width for i, k in enumerate(keys) if k in points]
        sel = [points[k] for k in keys if k in points]
        ys = [r["value"] for r in sel]
        err = [[y - r["ci_low"] for y, r in zip(ys, sel)], [r["ci_high"] - y for y, r in zip(ys, sel)]]
        line = ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=2, ms=4, label=f"{model} (measured)")[0]
        pub = [(x, r["published"]) for x, r in zip(xs, sel) if r.get("published") is not None]
        if pub:
            ax.plot(*zip(*pub), "s", mfc="none", color=line.get_color(), label=f"{model} (published)")
    if reference:
        ax.plot(range(len(keys)), [reference.get(k) for k in keys], "_", ms=14, mew=2, color="#555",
                label=reference_label)
    ax.set_xticks(range(len(keys)), [k.replace("_", " ") for k in keys], rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    if note:
        fig.text(0.01, 0.005, note, fontsize=6, color="#a33")
    return _save(fig, path)


def imagenet_c_figure(records: list[dict[str, Any]], report_dir: Path) -> Path | None:
    """Top-1 error per corruption (mean over severities) per model, against the paper and AlexNet."""
    from .metrics import ALEXNET_IMAGENET_C_ERRORS, IMAGENET_C_CORRUPTIONS, IMAGENET_C_EXTRA

    rows = [r for r in records if r["metric"] == "imagenet_c.corruption_mean_error"]
    if not rows:
        return None
    alexnet = {c: 100 * sum(v) / len(v) for c, v in ALEXNET_IMAGENET_C_ERRORS.items()}
    deviations = {(r.get("details") or {}).get("deviation") for r in rows} - {None}
    note = "mCE normalisation: " + next(iter(deviations)) if deviations else None
    return _per_key_figure(rows, "corruption", IMAGENET_C_CORRUPTIONS + IMAGENET_C_EXTRA, report_dir / "imagenet_c.png",
                           ylabel="top-1 error (%), mean over severities", title="ImageNet-C: error per corruption",
                           reference=alexnet, reference_label="AlexNet (released data)", note=note)


def imagenet_p_figure(records: list[dict[str, Any]], report_dir: Path) -> Path | None:
    """Flip probability per perturbation per model, against the paper."""
    from .metrics import IMAGENET_P_HELD_OUT as HELD_OUT
    from .metrics import IMAGENET_P_PERTURBATIONS as PERTURBATIONS

    rows = [r for r in records if r["metric"] == "imagenet_p.flip_probability"]
    if not rows:
        return None
    return _per_key_figure(rows, "perturbation", PERTURBATIONS + HELD_OUT, report_dir / "imagenet_p.png",
                           ylabel="flip probability", title="ImageNet-P: flip probability per perturbation")


def shape_bias_figure(records: list[dict[str, Any]], path: Path) -> Path:
    """Geirhos-style plot: per category, the fraction of shape decisions of each model (and rule),
    with each model's overall shape bias and the human reference band."""
    plt = _pyplot()
    series = {}
    for r in records:  # one series per (model, rule); duplicates (several claims) carry the same numbers
        label = f"{r['model']} ({(r.get('context') or {}).get('rule', '?')} rule)"
        series[label] = (r["value"], r["details"]["per_category"])
    categories = sorted(next(iter(series.values()))[1])
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(categories) + 1.8))
    ax.axvspan(HUMAN_SHAPE_BIAS[1], HUMAN_SHAPE_BIAS[2], color="#d62728", alpha=0.12, lw=0)
    ax.axvline(HUMAN_SHAPE_BIAS[0], color="#d62728", lw=1.5, label=f"humans ({HUMAN_SHAPE_BIAS[0]})")
    markers = "osD^v<>ph"
    for k, (label, (overall, per_cat)) in enumerate(sorted(series.items())):
        xs = [per_cat[c]["shape_bias"] for c in categories]
        ys = list(range(len(categories)))
        pts = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None]
        line = ax.plot([p[0] for p in pts], [p[1] for p in pts], markers[k % len(markers)], ms=6, alpha=0.85,
                       label=f"{label}: {overall:.3f}")[0]
        ax.axvline(overall, color=line.get_color(), ls="--", lw=1)
    ax.set_yticks(range(len(categories)), categories)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of shape decisions (1 = shape, 0 = texture)")
    ax.set_title("Shape bias on cue-conflict stimuli, per shape category")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, frameon=False)
    fig.text(0.01, 0.005, "Stimuli: Geirhos et al. 2019, CC BY 4.0", fontsize=6, color="#555")
    return _save(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 130) -> Path:
    """Write a matplotlib figure as PNG, atomically, and close it."""
    plt = _pyplot()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def pgd_figure(records: list[dict[str, Any]], path: Path, *, along: str) -> Path | None:
    """PGD accuracy against steps (eps 0.06) or against eps (10 steps), per model, with intervals and
    the published values: the paper's "holds at 10 steps, collapses with more" figure."""
    fixed = {"steps": ("eps", 0.06), "eps": ("steps", 10)}[along]
    rows = [r for r in records if r["metric"] == "adversarial.accuracy"
            and (r.get("context") or {}).get(fixed[0]) == fixed[1] and along in (r.get("context") or {})]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for model in sorted({r["model"] for r in rows}):
        points = {}
        for r in rows:
            if r["model"] == model:
                points[r["context"][along]] = r  # duplicates (several claims) hold the same numbers
        xs = sorted(points)
        ys = [points[x]["value"] for x in xs]
        err = [[y - points[x]["ci_low"] for x, y in zip(xs, ys)], [points[x]["ci_high"] - y for x, y in zip(xs, ys)]]
        line = ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=f"{model} (measured)")[0]
        published = [(x, points[x]["published"]) for x in xs if points[x].get("published") is not None]
        if published:
            ax.plot(*zip(*published), ls=":", marker="s", mfc="none", color=line.get_color(),
                    label=f"{model} (published)")
    ax.set_xlabel("PGD steps (eps 0.06)" if along == "steps" else "eps (10 steps)")
    ax.set_ylabel("accuracy under attack (%)")
    ax.set_ylim(-2, 100)
    ax.set_title("White-box PGD, the paper's protocol")
    ax.legend(fontsize=7)
    return _save(fig, path)


def image_grid(images, path: Path, row_labels: list[str], col_labels: list[str]) -> Path:
    """A labelled PNG grid of float images [R, C, 3, H, W] in [0, 1], written atomically."""
    plt = _pyplot()
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(images[r, c].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_labels[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=7)
    return _save(fig, path, dpi=110)


def _md_row(cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def summary_markdown(records: list[dict[str, Any]], comparisons: list[dict[str, Any]] | None = None,
                     prov: dict[str, Any] | None = None) -> str:
    """The run as Markdown: verdict counts, one table per model (claims with value, interval, bound,
    published value and difference), the regression gate, and provenance. Fit for a CI job summary."""
    counts = verdict_counts(records)
    icon = {"confirmed": "✅", "consistent": "➖", "violated": "❌", "measured": "📏"}
    lines = ["# Robustness claims", "",
             " · ".join(f"{icon[v]} {counts.get(v, 0)} {v}" for v in VERDICT_ORDER), ""]
    for model in sorted({r["model"] for r in records}):
        lines += [f"## {model}", "",
                  _md_row(["benchmark", "claim", "metric", "where", "value", "interval", "bound", "published",
                           "difference", "verdict"]),
                  _md_row(["---"] * 10)]
        rows = sorted((r for r in records if r["model"] == model),
                      key=lambda r: (r["metric"], r.get("claim") or "", json_key(r.get("context"))))
        for r in rows:
            pct = round(100 * r.get("confidence", 0.95))
            where = ", ".join(f"{k}={v}" for k, v in sorted((r.get("context") or {}).items()))
            diff = r["value"] - r["published"] if r.get("published") is not None else None
            lines.append(_md_row([
                r["metric"].split(".")[0], r.get("claim") or "-", r["metric"], where or "-", _fmt(r["value"]),
                f"{pct}% [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}], n={r['n']}",
                f"{r['op']} {_fmt(r['bound'])}" if r.get("op") else "-", _fmt(r.get("published")),
                f"{diff:+.3g}" if diff is not None else "-", f"{icon.get(r['verdict'], '')} {r['verdict']}"]))
        lines.append("")
    if comparisons:
        regressed = [c for c in comparisons if c["regressed"]]
        lines += [f"## Regression gate: {len(regressed)} of {len(comparisons)} paired claims regressed", "",
                  _md_row(["model", "baseline", "metric", "where", "value", "baseline value", "change",
                           "p (one-sided)", "n", "regressed"]), _md_row(["---"] * 10)]
        for c in comparisons:
            where = ", ".join(f"{k}={v}" for k, v in sorted(c["context"].items()))
            lines.append(_md_row([c["model"], c["baseline"], c["metric"], where, _fmt(c["value"]),
                                  _fmt(c["baseline_value"]), f"{c['change']:+.3g}", f"{c['p_value']:.3g}", c["n"],
                                  "❌ yes" if c["regressed"] else "no"]))
        lines.append("")
    if prov:
        pk = prov.get("packages", {})
        lines += ["## Provenance", "",
                  f"- created {prov.get('created')}, git commit `{prov.get('git_commit')}`, seed {prov.get('seed')}",
                  f"- devices: {', '.join(prov.get('devices', [])) or '-'}",
                  "- packages: " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
                  "- datasets: " + "; ".join(f"{d.get('name')} (n={d.get('n')} of {d.get('full_size')})"
                                            for d in prov.get("datasets", [])), ""]
    if any(r["metric"].startswith("shape_bias") for r in records):
        lines += ["Cue-conflict stimuli: Geirhos et al. 2019, CC BY 4.0.", ""]
    return "\n".join(lines)


def json_key(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def write_summary(path: Path, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


# --------------------------------------------------------------------------------------------------
# The HTML report: one self-contained file (figures inlined), readable offline


SECTIONS = (
    ("summary", "Summary"),
    ("claims", "Claims"),
    ("gate", "Regression gate"),
    ("imagenet-c", "ImageNet-C: corruption error"),
    ("adversarial", "Adversarial: PGD against steps and eps"),
    ("shape-bias", "Shape bias"),
    ("imagenet-p", "ImageNet-P: flip probability"),
    ("provenance", "Provenance"),
)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border-bottom:1px solid #eee;padding:3px 6px;
text-align:left}th{cursor:pointer;background:#fafafa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.confirmed{color:#1a7f37}.violated{color:#cf222e;font-weight:600}.consistent{color:#9a6700}.measured{color:#555}
.empty{color:#777;font-style:italic}img{max-width:100%}nav a{margin-right:1rem}pre{background:#f6f8fa;padding:1rem;
overflow:auto;font-size:12px}
"""

# Click a column header to sort its table; no external resources.
_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir === 1 ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      return dir * (isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.body.setAttribute("data-rendered", String(document.querySelectorAll("section").length));
"""


def _esc(value: Any) -> str:
    import html

    return html.escape(str(value))


def _img(path: Path | None, alt: str) -> str:
    import base64

    if path is None or not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def render_html(doc: dict[str, Any], figures: dict[str, Path]) -> str:
    records, comparisons, prov = doc.get("claims", []), doc.get("comparisons", []), doc.get("provenance", {})
    counts = verdict_counts(records)
    body: dict[str, str] = {}
    body["summary"] = "<p>" + " &middot; ".join(
        f'<span class="{v}">{counts.get(v, 0)} {v}</span>' for v in VERDICT_ORDER) + "</p>" + (
        f"<p>Models: {_esc(', '.join(sorted({r['model'] for r in records})))}</p>" if records else
        '<p class="empty">No claim was evaluated in this run.</p>')
    head = ["model", "claim", "metric", "where", "value", "interval", "n", "bound", "published", "difference",
            "verdict"]
    rows = []
    for r in sorted(records, key=lambda r: (r["model"], r["metric"], r.get("claim") or "", json_key(r.get("context")))):
        where = ", ".join(f"{k}={v}" for k, v in sorted((r.get("context") or {}).items()))
        diff = r["value"] - r["published"] if r.get("published") is not None else None
        cells = [r["model"], r.get("claim") or "-", r["metric"], where or "-", _fmt(r["value"]),
                 f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]", r["n"],
                 f"{r['op']} {_fmt(r['bound'])}" if r.get("op") else "-", _fmt(r.get("published")),
                 f"{diff:+.3g}" if diff is not None else "-"]
        tds = "".join(f'<td class="num">{_esc(c)}</td>' if i in (4, 6, 8, 9) else f"<td>{_esc(c)}</td>"
                      for i, c in enumerate(cells))
        rows.append(f'<tr>{tds}<td class="{_esc(r["verdict"])}">{_esc(r["verdict"])}</td></tr>')
    body["claims"] = (f'<table class="sortable"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead>'
                      f'<tbody>{"".join(rows)}</tbody></table>') if rows else '<p class="empty">No claims.</p>'
    if comparisons:
        gate_rows = "".join(
            f'<tr><td>{_esc(c["model"])}</td><td>{_esc(c["baseline"])}</td><td>{_esc(c["metric"])}</td>'
            f'<td class="num">{c["change"]:+.3g}</td><td class="num">{c["p_value"]:.3g}</td><td class="num">{c["n"]}</td>'
            f'<td class="{"violated" if c["regressed"] else "confirmed"}">{"regressed" if c["regressed"] else "ok"}</td></tr>'
            for c in comparisons)
        body["gate"] = ('<table class="sortable"><thead><tr><th>model</th><th>baseline</th><th>metric</th>'
                        '<th>change</th><th>p (one-sided)</th><th>n</th><th>result</th></tr></thead>'
                        f"<tbody>{gate_rows}</tbody></table>")
    else:
        body["gate"] = '<p class="empty">No baseline in this run (--baseline-model / --baseline-report).</p>'
    body["imagenet-c"] = _img(figures.get("imagenet_c"), "corruption error") or \
        '<p class="empty">No ImageNet-C results in this run.</p>'
    adversarial = _img(figures.get("pgd_vs_steps"), "PGD accuracy against steps") + \
        _img(figures.get("pgd_vs_eps"), "PGD accuracy against eps")
    body["adversarial"] = adversarial or '<p class="empty">No adversarial results in this run.</p>'
    body["shape-bias"] = (_img(figures.get("shape_bias"), "shape bias per category") +
                          "<p>Stimuli: Geirhos et al. 2019, CC BY 4.0.</p>") if figures.get("shape_bias") else \
        '<p class="empty">No shape-bias results in this run.</p>'
    body["imagenet-p"] = _img(figures.get("imagenet_p"), "flip probability") or \
        '<p class="empty">No ImageNet-P results in this run.</p>'
    body["provenance"] = f"<pre>{_esc(json.dumps(prov, indent=2, default=str))}</pre>"
    nav = "".join(f'<a href="#{sid}">{_esc(title)}</a>' for sid, title in SECTIONS)
    sections = "".join(f'<section id="{sid}"><h2>{_esc(title)}</h2>{body[sid]}</section>' for sid, title in SECTIONS)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Robustness claims</title>'
            f"<style>{_CSS}</style></head><body><h1>Robustness claims</h1><nav>{nav}</nav>{sections}"
            f"<script>{_JS}</script></body></html>")


def render_report(report_dir: Path) -> list[Path]:
    """From `<report_dir>/results.json`: the figures, summary.md and a self-contained index.html."""
    doc = json.loads((report_dir / "results.json").read_text())
    figures = {p.stem: p for p in write_figures(report_dir, doc.get("claims", []))}
    write_summary(report_dir / "summary.md", summary_markdown(doc["claims"], doc.get("comparisons"), doc["provenance"]))
    with atomic_write(report_dir / "index.html", "w") as fh:
        fh.write(render_html(doc, figures))
    return [report_dir / "summary.md", report_dir / "index.html", *figures.values()]
