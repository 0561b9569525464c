"""ROUGE-L with the MMLU tasks apart from the rest, per system, with each system's paired difference
from the first, and which letters each system answers on MMLU.

Why: 45 of the 116 seen tasks (and 6 of the 32 unseen) are MMLU subjects
(task6xx/7xx_mmmlu_answer_generation_*), four-way multiple choice scored on one letter. The demo
model answers them at about chance, mostly with one constant letter, so a system's MMLU score is
largely how often its favourite letter happens to be right in the evaluated instances, and with
39 % of the seen tasks that moves the headline mean by points.

    python results/sni-p116-2026-12-02/by_mmlu.py mt_lora230=results/sni-v116-2026-11-30/prompt/predictions-mt_lora.jsonl \\
        P116=runs/visits/P116/eval/sni-180/predictions-hypernet.jsonl ...
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "results/sni-i116-2026-12-01")]  # eval.py, by_answer.py
from by_answer import header, paired_cell, read_systems, task_mean  # noqa: E402


def is_mmlu(rec):
    return "_mmmlu_answer_generation_" in rec["task"]


def main(specs):
    systems = read_systems(specs)
    ref_name, ref = next(iter(systems.items()))
    names = list(systems)
    print(header(["split", "tasks", "n"], names, ref_name))
    for split in ("seen", "unseen"):
        for label, keep in (("MMLU", is_mmlu), ("all but MMLU", lambda r: not is_mmlu(r))):
            sel = {n: [r for r in recs if r["split"] == split and keep(r)] for n, recs in systems.items()}
            means = [f"{task_mean(sel[n]):.1f}" for n in names]
            diffs = [paired_cell(sel[n], sel[ref_name], split) for n in names[1:]]
            n_tasks = len({r["task"] for r in sel[ref_name]})
            print(f"| {split} | {label} {n_tasks} | {len(sel[ref_name])} | " + " | ".join(means + diffs) + " |")
    # the letters: what each system answers on MMLU, and what its most frequent answer would score if given always
    refs = Counter(r["references"][0].strip() for r in ref if is_mmlu(r))
    n = sum(refs.values())
    print(f"\nMMLU references, {n} instances: " + ", ".join(f"{k} {v / n:.0%}" for k, v in sorted(refs.items())))
    print("\n| system | exact match | answers A / B / C / D / other | its most frequent answer, right if always given |")
    print("|---|---|---|---|")
    for name, recs in systems.items():
        mm = [r for r in recs if is_mmlu(r)]
        ans = Counter(r["prediction"].strip() for r in mm)
        top = ans.most_common(1)[0][0]
        letters = " / ".join(f"{ans[k] / len(mm):.0%}" for k in "ABCD")
        other = 1 - sum(ans[k] for k in "ABCD") / len(mm)
        em = np.mean([r["exact_match"] for r in mm])  # x100, as eval.py stores it
        print(f"| {name} | {em:.1f} | {letters} / {other:.0%} | {top!r}: {refs[top] / n:.1%} |")


if __name__ == "__main__":
    main(sys.argv[1:])
