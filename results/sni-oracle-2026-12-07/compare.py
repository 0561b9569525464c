"""How much can a task-specific adapter add over the shared one? Per-task LoRAs started from the
multi-task LoRA (train.py --mode lora --init_from) against mt_lora230, the hypernetwork runs and the
label prior, on the tasks they were trained on, with the definition in the prompt (10 held-out
instances a task, the committed predictions; paired 95 % bootstrap, `*`: the interval excludes 0).

    python results/sni-oracle-2026-12-07/compare.py [DATA_DIR]     # ../shared/data/sni by default
    python results/sni-oracle-2026-12-07/compare.py --past_prior   # task names for run.sh: the tasks past the prior
    python results/sni-oracle-2026-12-07/compare.py --rest         # and the other non-MMLU ones, make results' 12 first

The oracles' predictions are in this folder (oracle125/, oracle230/); the others are committed with
their own write-ups (the README names them)."""
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = HERE.parent  # results/
sys.path.insert(0, str(R.parent))
sys.path.insert(0, str(R.parent / "scripts"))
sys.path.insert(0, str(R / "sni-i116-2026-12-01"))
sys.path.insert(0, str(R / "sni-prior-2026-12-07"))
import by_answer  # noqa: E402  (mean over tasks, paired-difference cell, one-word split)
import data  # noqa: E402
import prior  # noqa: E402  (the label prior and the kinds of task)
from results import lora_task_names  # noqa: E402  (make results' 12 per-task LoRA tasks)

SYSTEMS = {  # the definition in the prompt, 10 instances a task; the first is the reference
    "mt_lora230": R / "sni-v116-2026-11-30/prompt/predictions-mt_lora.jsonl",
    "floor125": R / "sni-late-2026-12-06/floor125-prompt/predictions-mt_lora.jsonl",
    "oracle125": HERE / "oracle125/predictions-lora.jsonl",  # make results' 12 per-task LoRA tasks
    "oracle230": HERE / "oracle230/predictions-lora.jsonl",  # tasks past the label prior (run.sh)
    "L125W": R / "sni-late-2026-12-06/L125W-prompt/predictions-hypernet.jsonl",
    "V116": R / "sni-v116-2026-11-30/prompt/predictions-hypernet.jsonl",
    "lora from 0": R / "sni-v116-2026-11-30/prompt/predictions-lora.jsonl",
}


def read(path):
    return [r for r in map(json.loads, open(path)) if r["split"] == "seen"]


def kinds_of(tasks, ref):
    """task name -> prior.py's kind (MMLU / one word <= 10 labels / one word > 10 labels / longer answers)."""
    return {n: prior.kind(tasks[n], a) for n, a in by_answer.bucket_of_tasks(ref).items()}


def past_prior(kinds, skip=()):
    """The seen tasks where systems clear the label prior: longer answers, one word with > 10 labels."""
    return [n for n, k in kinds.items() if k in ("longer answers", "one word: > 10 labels") and n not in skip]


def seen_kinds(data_dir):
    """(seen tasks by name, each seen task's kind as prior.py groups them, from mt_lora230's records)."""
    tasks = {t.name: t for t in data.load_tasks(data_dir, log=None).seen}
    return tasks, kinds_of(tasks, read(SYSTEMS["mt_lora230"]))


def main(data_dir):
    tasks, kinds = seen_kinds(data_dir)
    systems = {k: read(p) for k, p in SYSTEMS.items() if p.is_file()}
    ref = systems["mt_lora230"]
    systems["majority label"] = prior.majority(ref, tasks)
    has = {k: {r["task"] for r in rs} for k, rs in systems.items()}
    oracles = [k for k in ("oracle125", "oracle230") if k in systems]
    l12 = set(lora_task_names(data_dir, 12))
    h = set(past_prior(kinds, skip=l12))
    groups = {"make results' 12 per-task LoRA tasks": l12,
              "the other tasks past the label prior": h,
              "the other one-word tasks with <= 10 labels": {n for n, k in kinds.items() if k == "one word: <= 10 labels"} - l12}
    groups = {g: ts & has["oracle230"] for g, ts in groups.items()} if "oracle230" in has else groups
    groups = {**{g: ts for g, ts in groups.items() if ts}, "every task an oracle was trained on": set().union(*(has[o] for o in oracles))}
    names = list(systems)
    print("Seen tasks, the definition in the prompt, 10 held-out instances each; ROUGE-L, mean over the "
          "group's tasks (n/a: a system without them); then the paired difference from mt_lora230 (95 % interval)\n")
    print(by_answer.header(["tasks", "n"], names, "mt_lora230"))
    for g, ts in groups.items():
        keep = {n: [r for r in systems[n] if r["task"] in ts] for n in names}
        cells = [f"{by_answer.task_mean(keep[n]):.1f}" if ts <= has[n] else "n/a" for n in names]
        diffs = [by_answer.paired_cell(keep[n], ref, "seen") if ts <= has[n] else "n/a" for n in names[1:]]
        print(f"| {g} | {len(ts)} | " + " | ".join(cells + diffs) + " |")
    if "oracle125" in has:
        print(f"\noracle125 - its floor (floor125) on its {len(has['oracle125'])} tasks: "
              f"{by_answer.paired_cell(systems['oracle125'], systems['floor125'], 'seen')}")

    # every seen task: mt_lora230 where no oracle was trained, the oracle where one was
    print()
    for o in oracles:
        for g, ts in [(f"every {o} task", has[o])] + [(g, ts) for g, ts in groups.items() if ts <= has[o] and ts != has[o]]:
            mixed = [r for r in ref if r["task"] not in ts] + [r for r in systems[o] if r["task"] in ts]
            print(f"All {len(has['mt_lora230'])} seen tasks, mt_lora230 with {o} on {len(ts)} of them ({g}): "
                  f"{by_answer.task_mean(mixed):.1f} against {by_answer.task_mean(ref):.1f}, "
                  f"difference {by_answer.paired_cell(mixed, ref, 'seen')}")

    print("\nPer task (ROUGE-L over its 10 instances):\n")
    cols = ["majority label", "floor125", "mt_lora230", *oracles, "L125W"]
    last = oracles[-1]
    print("| task | kind | " + " | ".join(cols) + f" | {last} - mt_lora230 |\n" + "|---" * (len(cols) + 3) + "|")
    means = {}  # (system, task) -> ROUGE-L over the task's instances
    for n in cols:
        for r in systems[n]:
            means.setdefault((n, r["task"]), []).append(r["rougeL"])
    for g, ts in groups.items():
        if g.startswith("every"):
            continue
        for t in sorted(ts):
            per = {n: statistics.mean(means[n, t]) if t in has[n] else None for n in cols}
            d = f"{per[last] - per['mt_lora230']:+.1f}" if per[last] is not None else "n/a"
            print(f"| {t} | {kinds[t]} | " + " | ".join("n/a" if per[n] is None else f"{per[n]:.1f}" for n in cols)
                  + f" | {d} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    data_dir = next((a for a in args if not a.startswith("--")), str(R.parents[1] / "shared" / "data" / "sni"))
    if "--past_prior" in args or "--rest" in args:
        kinds, l12 = seen_kinds(data_dir)[1], lora_task_names(data_dir, 12)
        h = past_prior(kinds, skip=l12)  # make results' 12 come first in --rest
        print(",".join(h if "--past_prior" in args else
                       l12 + sorted(n for n, k in kinds.items() if n not in h + l12 and k != "one word: MMLU")))
    else:
        main(data_dir)
