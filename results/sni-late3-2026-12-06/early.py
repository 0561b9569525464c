"""Early signs and validation loss of the runs over mt_lora230's step-125 floor, from committed
metrics.jsonl files (train.py writes one line per step; no model needed):

    python results/sni-late3-2026-12-06/early.py

  task_share a-b: median share of the generated dW's energy that varies across the step's tasks
  grad_task a-b:  median gradient norm of the task projection P (the escape write-up's collapse sign)
  val_loss, gap:  validation loss (nats per target token, 232 held-out seen instances) and shuffled
                  task codes minus right ones, at steps 34, 69, 104; adapter only for def_dropout 1,
                  with the definition in the prompt for LD125 / LD3
  gap, inst:      the same gap with every instance weighted alike (val_loss_inst: the mean over
                  instances of each one's mean target loss; 2 instances a task, so also a task mean)
"""
import json
import statistics
from pathlib import Path

R = Path(__file__).resolve().parents[1]  # results/
LATE, HERE = R / "sni-late-2026-12-06/logs", R / "sni-late3-2026-12-06/logs"
RUNS = {  # name -> (recipe, metrics.jsonl)
    "L125": ("8 tasks x 2, --def_dropout 1, 10 x", LATE / "L125_metrics.jsonl"),
    "L125W": ("16 tasks x 1, --def_dropout 1, 10 x", LATE / "L125W_metrics.jsonl"),
    "L3W": ("16 tasks x 1, --def_dropout 1, 3 x", HERE / "L3W_metrics.jsonl"),
    "LD125": ("8 tasks x 2, --def_dropout 0.5, 10 x", LATE / "LD125_metrics.jsonl"),
    "LD3": ("8 tasks x 2, --def_dropout 0.5, 3 x", HERE / "LD3_metrics.jsonl"),
}
WINDOWS = ((10, 30), (30, 60), (60, 105))


def median(rows, key, lo, hi):
    v = [r[key] for r in rows if key in r and lo <= r["step"] < hi]
    return f"{statistics.median(v):.{2 if key == 'task_share' else 4}f}" if v else "-"


def main():
    w = " / ".join(f"{lo}-{hi - 1}" for lo, hi in WINDOWS)
    print(f"| run | recipe | task_share {w} | grad_task {w} | val_loss 34 / 69 / 104 | gap (nats) | gap, inst |")
    print("|---|---|---|---|---|---|---|")
    for name, (recipe, path) in RUNS.items():
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        val = [r for r in rows if "val_loss_shuffled" in r]
        share = " / ".join(median(rows, "task_share", lo, hi) for lo, hi in WINDOWS)
        grad = " / ".join(median(rows, "grad_task", lo, hi) for lo, hi in WINDOWS)
        losses = " / ".join(f"{r['val_loss']:.3f}" for r in val)
        gaps = " / ".join(f"{r['val_loss_shuffled'] - r['val_loss']:+.3f}" for r in val)
        inst = " / ".join(f"{r['val_loss_shuffled_inst'] - r['val_loss_inst']:+.3f}" for r in val)
        last = max(r["step"] for r in rows)
        print(f"| {name} | {recipe} | {share} | {grad} | {losses or '-'} | {gaps or '-'}"
              f"{'' if last >= 104 else f' (at step {last})'} | {inst or '-'} |")


if __name__ == "__main__":
    main()
