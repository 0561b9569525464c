"""The issue's table on all 116 seen tasks for definition dropout over all 116 training tasks (hyper116k0dd,
seventh session), beside the shared LoRAs trained at the same budget from mt_lora230 (joint116: the definition
always in the prompt; joint116dd: --def_dropout 0.5), mt_lora230 itself and the base model (its committed
predictions in ../sni-v116-2026-11-30/prompt, the same instances). The definition in the prompt, 10 held-out
instances a task, mean over tasks; paired 95 % bootstrap (`*`: the interval excludes 0). Columns: all 116
seen tasks, the 32 unseen, the 71 seen that are not MMLU subjects, the 31 past the label prior (compare.py's).

    python results/sni-joint-2026-12-07/table116.py
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
R = HERE.parent  # results/
sys.path.insert(0, str(R / "sni-i116-2026-12-01"))
sys.path.insert(0, str(R / "sni-p116-2026-12-02"))
import by_answer  # noqa: E402  (mean over tasks, paired-difference cell)
from by_mmlu import is_mmlu  # noqa: E402

V116 = R / "sni-v116-2026-11-30/prompt"
SYSTEMS = {  # the first is the base model, the % reference
    "base": V116 / "predictions-base.jsonl",
    "base_chat": V116 / "predictions-base_chat.jsonl",
    "fewshot": V116 / "predictions-fewshot.jsonl",
    "mt_lora230": V116 / "predictions-mt_lora.jsonl",
    "joint116": HERE / "joint116/all116/predictions-mt_lora.jsonl",
    "joint116dd": HERE / "joint116dd/predictions-mt_lora.jsonl",
    "hyper116k0dd": HERE / "hyper116k0dd/predictions-hypernet.jsonl",
    "hyper116k0dd shuffled": HERE / "hyper116k0dd/predictions-hypernet_shuffled.jsonl",
    "hyper116k0dd mean": HERE / "hyper116k0dd/predictions-hypernet_mean.jsonl",
}
PAIRS = [("hyper116k0dd", b) for b in ("joint116", "joint116dd", "mt_lora230", "hyper116k0dd shuffled",
                                       "hyper116k0dd mean", "fewshot", "base", "base_chat")] \
    + [("joint116", "mt_lora230"), ("joint116dd", "mt_lora230"), ("joint116dd", "joint116")]


def main():
    t31 = {r["task"] for r in map(json.loads, open(HERE / "joint31/predictions-mt_lora.jsonl")) if r["split"] == "seen"}
    systems = {k: [json.loads(line) for line in open(p)] for k, p in SYSTEMS.items() if p.is_file()}
    cols = {"seen (116)": lambda r: r["split"] == "seen", "unseen (32)": lambda r: r["split"] == "unseen",
            "seen, no MMLU (71)": lambda r: r["split"] == "seen" and not is_mmlu(r),
            "seen past the prior (31)": lambda r: r["split"] == "seen" and r["task"] in t31}
    n_seen = {k: len({r["task"] for r in rs if r["split"] == "seen"}) for k, rs in systems.items()}
    if any(n != 116 for n in n_seen.values()):
        raise SystemExit(f"error: expected 116 seen tasks in every system, found {n_seen}")
    base = [by_answer.task_mean([r for r in systems["base"] if f(r)]) for f in cols.values()]
    print("ROUGE-L, mean over tasks (% against the base model, Tk prompt, on the same tasks)\n")
    print("| system | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
    for name, recs in systems.items():
        cells = []
        for f, b in zip(cols.values(), base):
            m = by_answer.task_mean([r for r in recs if f(r)])
            cells.append(f"{m:.1f}" + (f" ({100 * (m / b - 1):+.0f} %)" if name != "base" else ""))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nPaired differences (the same instances; the no-MMLU and past-the-prior columns resample those tasks)\n")
    print("| difference | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
    for a, b in (p for p in PAIRS if set(p) <= set(systems)):
        cells = []
        for f in cols.values():
            ra, rb = ([dict(r, split="seen") for r in systems[x] if f(r)] for x in (a, b))  # one split per column
            cells.append(by_answer.paired_cell(ra, rb, "seen"))
        print(f"| {a} - {b} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
