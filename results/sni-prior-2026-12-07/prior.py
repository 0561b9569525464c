"""How far above a constant answer are the systems? Each seen task's most frequent training output (its
label prior: what a per-task adapter could learn without reading a single input) scored as a system on the
instances of the committed predictions, beside them, by kind of task.

    python results/sni-prior-2026-12-07/prior.py [DATA_DIR]      # ../shared/data/sni by default

Needs the SNI folder the predictions were made on (for the training outputs); seen tasks only (an unseen
task has no training instances to take a prior from)."""
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

R = Path(__file__).resolve().parents[1]  # results/
sys.path.insert(0, str(R.parent))
import data  # noqa: E402
import eval as ev  # noqa: E402
sys.path.insert(0, str(R / "sni-i116-2026-12-01"))
import by_answer  # noqa: E402  (its one-word/longer split and paired-difference cell)

SYSTEMS = {  # the definition in the prompt, 10 instances a task (results/sni-v116-2026-11-30 and later)
    "fewshot": R / "sni-v116-2026-11-30/prompt/predictions-fewshot.jsonl",
    "mt_lora230": R / "sni-v116-2026-11-30/prompt/predictions-mt_lora.jsonl",
    "V116": R / "sni-v116-2026-11-30/prompt/predictions-hypernet.jsonl",
    "L125W": R / "sni-late-2026-12-06/L125W-prompt/predictions-hypernet.jsonl",
}


def kind(task, answers):
    """Within by_answer's one-word tasks: MMLU subject / at most 10 distinct training outputs / more."""
    if answers != "one-word answers":
        return "longer answers"
    if "mmmlu" in task.name:
        return "one word: MMLU"
    n = len({ev.normalize_answer(i.outputs[0]) for i in task.train})
    return "one word: <= 10 labels" if n <= 10 else "one word: > 10 labels"


def majority(ref, tasks):
    """The label-prior system on ref's instances: each task's most frequent training output, scored."""
    labels = {n: Counter(i.outputs[0] for i in tasks[n].train).most_common(1)[0][0] for n in {r["task"] for r in ref}}
    out = []
    for r in ref:
        label = labels[r["task"]]
        em, rl = ev.instance_scores(label, r["references"], ev.is_xlingual(tasks[r["task"]]))
        out.append({**r, "prediction": label, "exact_match": em, "rougeL": rl})
    return out


def main(data_dir):
    tasks = {t.name: t for t in data.load_tasks(data_dir, log=None).seen}
    recs = {k: [r for r in map(json.loads, open(p)) if r["split"] == "seen"] for k, p in SYSTEMS.items()}
    ref = recs["mt_lora230"]
    majority_recs = majority(ref, tasks)
    systems = {"majority label": majority_recs, **recs}
    kinds = {name: kind(tasks[name], answers) for name, answers in by_answer.bucket_of_tasks(ref).items()}
    names = list(systems)
    print("Seen tasks, 10 held-out instances each; ROUGE-L / exact match, mean over tasks; last columns: "
          "paired difference from the majority label (ROUGE-L, 95 % interval)\n")
    print("| tasks | n | " + " | ".join(names) + " | " + " | ".join(f"{n} - majority" for n in names[1:]) + " |")
    print("|---" * (2 + 2 * len(names) - 1) + "|")
    for group in ("one word: MMLU", "one word: <= 10 labels", "one word: > 10 labels", "longer answers", "all"):
        keep = {n: [r for r in rs if group == "all" or kinds[r["task"]] == group] for n, rs in systems.items()}
        cells = []
        for n in names:
            per = {}
            for r in keep[n]:
                per.setdefault(r["task"], []).append((r["rougeL"], r["exact_match"]))
            rl = ev.task_mean([np.array([x[0] for x in v]) for v in per.values()])
            em = ev.task_mean([np.array([x[1] for x in v]) for v in per.values()])
            cells.append(f"{rl:.1f} / {em:.1f}")
        diffs = [by_answer.paired_cell(keep[n], keep["majority label"], "seen") for n in names[1:]]
        n_tasks = len({r["task"] for r in keep["majority label"]})
        print(f"| {group} | {n_tasks} | " + " | ".join(cells + diffs) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(R.parents[1] / "shared" / "data" / "sni"))
