"""Early signs of whether a hypernetwork run will read the instruction, from committed metrics.jsonl
files (train.py writes one line per step; no model needed):

    python results/sni-escape-2026-12-06/early.py

  task_share 20-39: median share of the generated dW's energy that varies across the step's tasks,
                    steps 20-39 (right after the 10-step warmup)
  grad_task 40-59:  median gradient norm of the task projection P, steps 40-59
  val_loss:         validation loss (nats per target token, held-out instances of seen tasks), at each
                    validation step (59, 119, 179)
  gap:              validation loss with shuffled task codes minus with the right ones (nats), at each
                    validation step (59, 119, 179)

Every run: the mt_lora floor's step 50 frozen underneath (one floor per data copy and seed), 8 tasks x 2 examples a step (unless the
change says otherwise), --task_lr_mult 10 --def_dropout 1, 180 steps or fewer where stopped early.
"""
import json
import statistics
from pathlib import Path

R = Path(__file__).resolve().parents[1]  # results/
HERE = R / "sni-escape-2026-12-06"
REP = R / "sni-replicate-2026-12-06"
# name -> (change from V116's recipe, data, seed, metrics.jsonl)
RUNS = {
    "V116": ("none", "../shared/data/sni", 0, R / "sni-visits-2026-11-30/metrics/V116.jsonl"),
    "shared-s1": ("none", "../shared/data/sni", 1, REP / "shared-s1/metrics.jsonl"),
    "make results": ("none", "data/sni", 0, R / "sni-cpu-2026-12-06/metrics-hypernet.jsonl"),
    "trimmed-s1": ("none", "data/sni", 1, REP / "trimmed-s1/metrics.jsonl"),
    "trimmed-s2": ("none", "data/sni", 2, REP / "trimmed-s2/metrics.jsonl"),
    # this folder's runs on data/sni: name-s<seed>
    **{f"{name}-s{seed}": (change, "data/sni", seed, HERE / f"{name}-s{seed}/metrics.jsonl")
       for name, change, seeds in (("wide", "16 tasks x 1 example", (0, 1)), ("wu40", "--warmup_steps 40", (0,)),
                                   ("tlm3", "--task_lr_mult 3", (0, 1, 2)))
       for seed in seeds},
    # the definition in half of the training prompts; validation with it in the prompt
    "D116": ("--def_dropout 0.5", "../shared/data/sni", 0, R / "sni-d116-2026-12-01/logs/D116_metrics.jsonl"),
    "D3-116": ("--def_dropout 0.5 --task_lr_mult 3", "../shared/data/sni", 0, HERE / "D3-116/metrics.jsonl"),
}


def median(rows, key, lo, hi):
    v = [r[key] for r in rows if key in r and lo <= r["step"] < hi]
    return f"{statistics.median(v):.{2 if key == 'task_share' else 4}f}" if v else "-"


def main():
    print("| run | change | data | seed | task_share 20-39 | grad_task 40-59 | val_loss | gap (nats) at 59 / 119 / 179 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (change, data, seed, path) in RUNS.items():
        if not path.exists():
            print(f"| {name} | {change} | {data} | {seed} | not run | | | |")
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        val = [r for r in rows if "val_loss_shuffled" in r]
        gaps = " / ".join(f"{r['val_loss_shuffled'] - r['val_loss']:+.3f}" for r in val)
        losses = " / ".join(f"{r['val_loss']:.3f}" for r in val)
        last = max(r["step"] for r in rows)
        print(f"| {name} | {change} | {data} | {seed} | {median(rows, 'task_share', 20, 40)} | "
              f"{median(rows, 'grad_task', 40, 60)} | {losses or '-'} | {gaps or '-'}{'' if last >= 179 else f' (stopped at step {last})'} |")


if __name__ == "__main__":
    main()
