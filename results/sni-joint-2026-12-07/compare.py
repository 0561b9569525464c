"""Task-specific weights, or only more data? On the 31 seen tasks past the label prior, with the
oracles' data budget, all started from mt_lora230: per-task LoRAs (oracle230), one LoRA for the 31
(joint31) and the hypernetwork over mt_lora230 as a trainable floor (hyper31 and hyper31s1, two
seeds, each with its shuffled-instruction control); the definition in the prompt, 10 held-out
instances a task, paired 95 % bootstrap (`*`: the interval excludes 0).

    python results/sni-joint-2026-12-07/compare.py [DATA_DIR]     # ../shared/data/sni by default
"""
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = HERE.parent  # results/
sys.path.insert(0, str(R / "sni-i116-2026-12-01"))
sys.path.insert(0, str(R / "sni-oracle-2026-12-07"))
import by_answer  # noqa: E402  (mean over tasks, paired-difference cell)
import compare as oracle  # noqa: E402  (the oracle's systems and its kinds of task)

SYSTEMS = {  # the first is the reference
    "mt_lora230": oracle.SYSTEMS["mt_lora230"],
    "oracle230": oracle.SYSTEMS["oracle230"],
    "joint31": HERE / "joint31/predictions-mt_lora.jsonl",
    "joint31s1": HERE / "joint31s1/predictions-mt_lora.jsonl",  # the same with --seed 1
    "hyper31": HERE / "hyper31/predictions-hypernet.jsonl",
    "hyper31 shuffled": HERE / "hyper31/predictions-hypernet_shuffled.jsonl",
    "hyper31s1": HERE / "hyper31s1/predictions-hypernet.jsonl",  # the same with --seed 1
    "hyper31s1 shuffled": HERE / "hyper31s1/predictions-hypernet_shuffled.jsonl",
}
PAIRS = [("hyper31", "joint31"), ("hyper31s1", "joint31s1"), ("hyper31s1", "joint31"), ("joint31s1", "joint31"),
         ("hyper31", "hyper31 shuffled"), ("hyper31s1", "hyper31s1 shuffled"),
         ("oracle230", "joint31"), ("oracle230", "joint31s1"), ("oracle230", "hyper31"), ("oracle230", "hyper31s1"),
         ("oracle230", "hyper31 shuffled"), ("oracle230", "hyper31s1 shuffled")]


def main(data_dir):
    kinds = oracle.seen_kinds(data_dir)[1]
    systems = {k: [json.loads(line) for line in open(p)] for k, p in SYSTEMS.items() if p.is_file()}
    t31 = {r["task"] for r in systems["joint31"] if r["split"] == "seen"}
    unseen = {r["task"] for r in systems["joint31"] if r["split"] == "unseen"}
    keep = {k: [r for r in rs if r["task"] in t31 | unseen] for k, rs in systems.items()}
    by_split = {split: {k: [r for r in rs if r["split"] == split] for k, rs in keep.items()} for split in ("seen", "unseen")}
    names = list(systems)
    has = {k: {r["task"] for r in rs} for k, rs in keep.items()}
    print("ROUGE-L, mean over the tasks (n/a: a system without them); then paired differences (95 % interval)\n")
    print(by_answer.header(["tasks", "n"], names, "mt_lora230"))
    for split, ts in (("seen", t31), ("unseen", unseen)):
        part = by_split[split]
        ok = [n for n in names if ts <= has[n]]
        cells = [f"{by_answer.task_mean(part[n]):.1f}" if n in ok else "n/a" for n in names]
        diffs = [by_answer.paired_cell(part[n], part["mt_lora230"], split) if n in ok else "n/a" for n in names[1:]]
        label = "the 31 seen tasks past the label prior" if split == "seen" else "the unseen tasks"
        print(f"| {label} | {len(ts)} | " + " | ".join(cells + diffs) + " |")
    print()
    for a, b in (pair for pair in PAIRS if set(pair) <= set(systems)):
        for split, part in by_split.items():
            pa, pb = part[a], part[b]
            if pa and pb:
                print(f"{a} - {b}, {split}: {by_answer.paired_cell(pa, pb, split)}")

    print("\nPer seen task (ROUGE-L over its 10 instances):\n")
    print("| task | kind | " + " | ".join(names) + " | hyper31 - joint31 |\n" + "|---" * (len(names) + 3) + "|")
    means = {}
    for n in names:
        for r in keep[n]:
            means.setdefault((n, r["task"]), []).append(r["rougeL"])
    for t in sorted(t31):
        per = {n: statistics.mean(means[n, t]) for n in names}
        print(f"| {t} | {kinds[t]} | " + " | ".join(f"{per[n]:.1f}" for n in names)
              + f" | {per['hyper31'] - per['joint31']:+.1f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(R.parents[1] / "shared" / "data" / "sni"))
