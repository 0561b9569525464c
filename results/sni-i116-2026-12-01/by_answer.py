"""ROUGE-L split by answer length: tasks whose median reference is one word (labels, letters, numbers)
against tasks with longer answers, per system, with each system's paired difference from the first.

Why: the training and validation losses are means over target tokens, so tasks with long answers
dominate them, while ROUGE-L is a mean over tasks (of a mean over instances), where the one-word tasks
are 96 of the 116 seen tasks. A run can gain in loss on the long answers and lose in ROUGE-L on the
short ones.

    python results/sni-i116-2026-12-01/by_answer.py mt_lora230=results/sni-v116-2026-11-30/prompt/predictions-mt_lora.jsonl \\
        F116=results/sni-f116-2026-12-01/F116-prompt/predictions-hypernet.jsonl ...
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import eval as ev  # noqa: E402  (the repo's task_mean and paired bootstrap)


def bucket_of_tasks(recs):
    words = defaultdict(list)
    for r in recs:
        words[r["task"]].append(len(r["references"][0].split()))
    return {t: "one-word answers" if statistics.median(w) <= 1 else "longer answers" for t, w in words.items()}


def read_systems(specs):
    """NAME=predictions.jsonl arguments -> {name: records}, in order; the first is the reference."""
    systems = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        systems[name] = [json.loads(line) for line in open(path)]
    return systems


def header(first, names, ref_name):
    return ("| " + " | ".join(first + names) + " | " + " | ".join(f"{n} - {ref_name}" for n in names[1:]) + " |\n"
            + "|---" * (len(first) + 2 * len(names) - 1) + "|")


def task_mean(recs):
    """eval.py's mean over tasks of the per-task mean ROUGE-L, for a subset of one system's records."""
    per_task = {}
    for r in recs:
        per_task.setdefault(r["task"], []).append(r["rougeL"])
    return ev.task_mean([np.array(x) for x in per_task.values()])


def diff_cell(d):
    """One of eval.paired()'s metric entries as '+d [lo, hi]', starred when the interval excludes 0."""
    return f"{d['diff']:+.1f} [{d['ci'][0]:+.1f}, {d['ci'][1]:+.1f}]" + (" \\*" if d["excludes_0"] else "")


def paired_cell(recs, ref_recs, split):
    """diff_cell of eval.py's paired bootstrap of recs - ref_recs (ROUGE-L)."""
    return diff_cell(ev.paired(recs, ref_recs)[split]["rougeL"])


def main(specs):
    systems = read_systems(specs)
    ref_name, ref = next(iter(systems.items()))
    bucket = bucket_of_tasks(ref)
    names = list(systems)
    print(header(["split", "answers", "tasks"], names, ref_name))
    for split in ("seen", "unseen"):
        for b in ("one-word answers", "longer answers"):
            keep = {name: [r for r in recs if r["split"] == split and bucket[r["task"]] == b] for name, recs in systems.items()}
            n_tasks = len({r["task"] for r in keep[ref_name]})
            means = [f"{task_mean(keep[name]):.1f}" for name in names]
            diffs = [paired_cell(keep[name], keep[ref_name], split) for name in names[1:]]
            print(f"| {split} | {b} | {n_tasks} | " + " | ".join(means + diffs) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
