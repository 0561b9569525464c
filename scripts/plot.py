"""Draw train.py runs side by side: loss, val_loss and the adapters' task conditioning, against step
and against training time, one colour per run, into one PNG.

    python scripts/plot.py runs/demo runs/demo-k4 --out runs/compare.png

matplotlib is an optional extra (pip install matplotlib); no other module imports it.
"""
import argparse
import json
import sys
from pathlib import Path

# (metrics key, panel title); adapter_cos and task_share share a panel: both in [0, 1]
PANELS = [(("loss", "val_loss"), "loss (solid: train, dashed: validation)"),
          (("adapter_cos", "task_share"), "adapters of different tasks (solid: mean cosine, dashed: task share)")]


def read_metrics(run_dir: Path):
    """The records of run_dir/metrics.jsonl (skipped steps have loss None)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise ValueError(f"{run_dir}: no metrics.jsonl (not a train.py run directory, or nothing logged yet)")
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON at line {e.lineno}") from None
    if not rows:
        raise ValueError(f"{path}: empty (nothing logged yet)")
    return rows


def plot(runs, out: Path):
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(PANELS), 2, figsize=(12, 4 * len(PANELS)), squeeze=False)
    for c, (name, rows) in enumerate(runs):
        colour = f"C{c % 10}"
        for r, (keys, title) in enumerate(PANELS):
            for col, x_key in enumerate(("step", "elapsed")):
                ax = axes[r][col]
                for key, style in zip(keys, ("-", "--")):
                    pts = [(row[x_key] / (60 if x_key == "elapsed" else 1), row[key]) for row in rows
                           if row.get(key) is not None and row.get(x_key) is not None]
                    if pts:
                        ax.plot(*zip(*pts), style, color=colour, label=f"{name} {key}")
                ax.set_title(title, fontsize=9)
                ax.set_xlabel("step" if x_key == "step" else "training time (min)")
                ax.grid(alpha=0.3)
    for ax in axes.flat:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dirs", nargs="+", help="train.py run directories (each with metrics.jsonl)")
    p.add_argument("--out", default="runs.png", help="output PNG")
    a = p.parse_args(argv)
    try:
        runs = [(str(d), read_metrics(Path(d))) for d in a.run_dirs]
    except ValueError as e:
        sys.exit(f"error: {e}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("error: scripts/plot.py needs matplotlib (pip install matplotlib)")
    plot(runs, Path(a.out))
    print(f"wrote {a.out}: {len(runs)} runs")


if __name__ == "__main__":
    main()
