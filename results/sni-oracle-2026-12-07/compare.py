"""How much can a task-specific adapter add over the shared one? Per-task LoRAs started from the
multi-task LoRA (train.py --mode lora --init_from) against mt_lora230, the hypernetwork runs and the
label prior, on the tasks they were trained on, with the definition in the prompt (10 held-out
instances a task, the committed predictions; paired 95 % bootstrap, `*`: the interval excludes 0).

    python results/sni-oracle-2026-12-07/compare.py [DATA_DIR]     # ../shared/data/sni by default
    python results/sni-oracle-2026-12-07/compare.py --past_prior   # those task names, for run.sh

The oracles' predictions are in this folder (oracle125/, oracle230/); the others are committed with
their own write-ups (the README names them)."""
import json
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


def main(data_dir):
    tasks = {t.name: t for t in data.load_tasks(data_dir, log=None).seen}
    systems = {k: read(p) for k, p in SYSTEMS.items() if p.is_file()}
    ref = systems["mt_lora230"]
    systems["majority label"] = prior.majority(ref, tasks)
    kinds = kinds_of(tasks, ref)
    has = {k: {r["task"] for r in rs} for k, rs in systems.items()}
    oracles = [k for k in ("oracle125", "oracle230") if k in systems]
    floor_of = {"oracle125": "floor125", "oracle230": "mt_lora230"}
    names = list(systems)
    print("Seen tasks, the definition in the prompt, 10 held-out instances each; ROUGE-L, mean over the "
          "oracle's tasks; then the paired difference from mt_lora230 (95 % interval)\n")
    print(by_answer.header(["tasks", "n"], names, "mt_lora230"))
    for o in oracles:
        ts = has[o]
        keep = {n: [r for r in systems[n] if r["task"] in ts] for n in names}
        cells = [f"{by_answer.task_mean(keep[n]):.1f}" if ts <= has[n] else "n/a" for n in names]
        diffs = [by_answer.paired_cell(keep[n], ref, "seen") if ts <= has[n] else "n/a" for n in names[1:]]
        print(f"| {o}'s | {len(ts)} | " + " | ".join(cells + diffs) + " |")
    for o in oracles:
        print(f"\n{o} - its floor ({floor_of[o]}) on its {len(has[o])} tasks: "
              f"{by_answer.paired_cell(systems[o], systems[floor_of[o]], 'seen')}")

    # every seen task: mt_lora230 where no oracle was trained, an oracle where one was
    for use in [[o] for o in oracles] + ([oracles] if len(oracles) > 1 else []):
        swapped = set().union(*(has[o] for o in use))
        mixed = [r for r in ref if r["task"] not in swapped] + [r for o in use for r in systems[o]]
        print(f"\nAll {len(has['mt_lora230'])} seen tasks, mt_lora230 with {' and '.join(use)} on {len(swapped)} of them: "
              f"{by_answer.task_mean(mixed):.1f} against {by_answer.task_mean(ref):.1f}, "
              f"difference {by_answer.paired_cell(mixed, ref, 'seen')}")

    print("\nPer task (ROUGE-L over its 10 instances; oracle: oracle125 on make results' 12 tasks, oracle230 on "
          "the others):\n")
    cols = ["majority label", "floor125", "mt_lora230", "oracle", "L125W"]
    print("| task | kind | " + " | ".join(cols) + " | oracle - mt_lora230 |\n" + "|---" * (len(cols) + 3) + "|")
    for o in oracles:
        for t in sorted(has[o]):
            per = {n: by_answer.task_mean([r for r in systems[n] if r["task"] == t]) for n in cols if n != "oracle"}
            per["oracle"] = by_answer.task_mean([r for r in systems[o] if r["task"] == t])
            print(f"| {t} | {kinds[t]} | " + " | ".join(f"{per[n]:.1f}" for n in cols)
                  + f" | {per['oracle'] - per['mt_lora230']:+.1f} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    data_dir = next((a for a in args if not a.startswith("--")), str(R.parents[1] / "shared" / "data" / "sni"))
    if "--past_prior" in args:  # make results' 12 are trained (and kept) apart
        seen = {t.name: t for t in data.load_tasks(data_dir, log=None).seen}
        print(",".join(past_prior(kinds_of(seen, read(SYSTEMS["mt_lora230"])), skip=lora_task_names(data_dir, 12))))
    else:
        main(data_dir)
