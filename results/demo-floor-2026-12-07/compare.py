"""This folder's tables from its committed predictions (no model needed): every system's ROUGE-L and exact
match with 95 % bootstrap intervals, and the paired differences that answer the question.

    python results/demo-floor-2026-12-07/compare.py 50      # or 10: the first look, 10 instances a task"""
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent / "sni-i116-2026-12-01"))
import eval as ev  # noqa: E402
from by_answer import diff_cell  # noqa: E402

PROMPT = {  # name -> predictions under p<N>/ (N held-out instances of each of the 16 seen tasks and of the 6 unseen)
    "base": "floor/predictions-base.jsonl",
    "floor (mt_lora, 80 steps)": "floor/predictions-mt_lora.jsonl",
    "MT (mt_lora trained on)": "MT/predictions-mt_lora.jsonl",
    "SF (shared residual)": "SF/predictions-hypernet.jsonl",
    "HF (hypernet residual)": "HF/predictions-hypernet.jsonl",
    "HF, shuffled": "HF/predictions-hypernet_shuffled.jsonl",
    "HF10 (task path 10 x lr)": "HF10/predictions-hypernet.jsonl",
    "HF10, shuffled": "HF10/predictions-hypernet_shuffled.jsonl",
    "SFD (SF, --def_dropout 1)": "SFD/predictions-hypernet.jsonl",
    "HFD (HF10, --def_dropout 1)": "HFD/predictions-hypernet.jsonl",
    "HFD, shuffled": "HFD/predictions-hypernet_shuffled.jsonl",
    "SFH (SF, --def_dropout 0.5)": "SFH/predictions-hypernet.jsonl",
    "HFH (HF10, --def_dropout 0.5)": "HFH/predictions-hypernet.jsonl",
    "HFH, shuffled": "HFH/predictions-hypernet_shuffled.jsonl",
}
ADAPTER_ONLY = {  # the same, the definition removed from every prompt (the base model keeps it: its row is above)
    "floor (mt_lora, 80 steps)": "floor-adapter_only/predictions-mt_lora.jsonl",
    "SFD (SF, --def_dropout 1)": "SFD-adapter_only/predictions-hypernet.jsonl",
    "HFD (HF10, --def_dropout 1)": "HFD-adapter_only/predictions-hypernet.jsonl",
    "HFD, shuffled": "HFD-adapter_only/predictions-hypernet_shuffled.jsonl",
    "SFH (SF, --def_dropout 0.5)": "SFH-adapter_only/predictions-hypernet.jsonl",
    "HFH (HF10, --def_dropout 0.5)": "HFH-adapter_only/predictions-hypernet.jsonl",
    "HFH, shuffled": "HFH-adapter_only/predictions-hypernet_shuffled.jsonl",
}
HF, HF10, HFD, SF, SFD = "HF (hypernet residual)", "HF10 (task path 10 x lr)", "HFD (HF10, --def_dropout 1)", \
    "SF (shared residual)", "SFD (SF, --def_dropout 1)"
HFH, SFH = "HFH (HF10, --def_dropout 0.5)", "SFH (SF, --def_dropout 0.5)"
FLOOR, MT = "floor (mt_lora, 80 steps)", "MT (mt_lora trained on)"
PAIRS = [(HF, SF), (HF, "HF, shuffled"), (HF, MT), (HF, FLOOR), (HF10, SF), (HF10, "HF10, shuffled"), (HF10, MT),
         (HFD, SFD), (HFD, "HFD, shuffled"), (HFD, MT), (HFD, FLOOR), (HFH, SFH), (HFH, "HFH, shuffled"), (HFH, MT),
         (HFH, FLOOR), (SF, FLOOR), (SFD, FLOOR), (SFH, FLOOR), (MT, FLOOR)]


def table(files):
    recs = {k: [json.loads(line) for line in open(f)] for k, f in files.items() if f.exists()}
    print("| system | seen ROUGE-L | seen EM | unseen ROUGE-L | unseen EM |\n|---|---|---|---|---|")
    for name, rs in recs.items():
        row = []
        for split in ("seen", "unseen"):
            for m in ("rougeL", "exact_match"):
                per_task = {}
                for r in rs:
                    if r["split"] == split:
                        per_task.setdefault(r["task"], []).append(r[m])
                arrs = [np.array(v) for v in per_task.values()]
                lo, hi = ev.bootstrap_ci(arrs)
                row.append(f"{ev.task_mean(arrs):.1f} [{lo:.1f}, {hi:.1f}]")
        print(f"| {name} | " + " | ".join(row) + " |")
    print("\n| paired difference | seen ROUGE-L | seen EM | unseen ROUGE-L | unseen EM |\n|---|---|---|---|---|")
    for a, b in PAIRS:
        if a in recs and b in recs:
            p = ev.paired(recs[a], recs[b])
            print(f"| {a} - {b} | " + " | ".join(diff_cell(p[s][m]) for s in ("seen", "unseen") for m in ("rougeL", "exact_match")) + " |")


def main(n):
    for title, systems in (("the definition in the prompt", PROMPT), ("adapter only", ADAPTER_ONLY)):
        print(f"## {title}, {n} instances a task\n")
        table({k: HERE / f"p{n}" / p for k, p in systems.items()})
        print()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("10", "50"):
        sys.exit("usage: compare.py 50|10")
    main(sys.argv[1])
