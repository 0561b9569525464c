"""Every hypernetwork run over an mt_lora floor (its step 50; step 125 for L125, L125W, LD125, L3W and LD3)
against mt_lora230, in one table per setting: ROUGE-L on seen and unseen tasks and on the 71 seen
tasks that are not MMLU subjects, each run's paired difference from mt_lora230 there, and its control
gap (the run minus its shuffled-instruction control), all from the committed predictions (no model
needed).

    python results/sni-vf116-2026-12-02/scoreboard.py prompt         # the definition in the prompt, 10 per task
    python results/sni-vf116-2026-12-02/scoreboard.py adapter_only   # the definition removed, 20 per task

Why the MMLU column: 45 of the 116 seen tasks are MMLU subjects, which the demo model answers at chance
with one favourite letter, so they move the seen mean by which letter a run settles on
(../sni-p116-2026-12-02/README.md). A run missing from results/ (not evaluated in that setting) is left out.
"""

import sys
from pathlib import Path

R = Path(__file__).resolve().parents[1]  # results/
sys.path[:0] = [str(R.parent), str(R / "sni-i116-2026-12-01"), str(R / "sni-p116-2026-12-02")]
from by_answer import paired_cell, read_systems, task_mean  # noqa: E402
from by_mmlu import is_mmlu  # noqa: E402

# run -> (folder of its predictions for a setting, what changed from the run before it)
RUNS = {
    "V116": ("sni-v116-2026-11-30/{mode}", "the floor frozen, --def_dropout 1"),
    "D116": ("sni-d116-2026-12-01/D116-{mode}", "V116 with --def_dropout 0.5"),
    "F116": ("sni-f116-2026-12-01/F116-{mode}", "D116 with --floor_trainable"),
    "I116": ("sni-i116-2026-12-01/I116-{mode}", "F116 with --loss_weight instance"),
    "B116": ("sni-batch-2026-12-02/B116-{mode}", "F116 with 4 tasks x 4 examples"),
    "P116": ("sni-p116-2026-12-02/P116-{mode}", "F116 with --def_dropout 0"),
    "VF116": ("sni-vf116-2026-12-02/VF116-{mode}", "F116 with --def_dropout 1 (V116 with --floor_trainable)"),
    "L125": ("sni-late-2026-12-06/L125-{mode}", "V116 over the step-125 floor, 105 steps"),
    "L125W": ("sni-late-2026-12-06/L125W-{mode}", "L125 with 16 tasks x 1 example"),
    "LD125": ("sni-late-2026-12-06/LD125-{mode}", "L125 with --def_dropout 0.5"),
    "L3W": ("sni-late3-2026-12-06/L3W-{mode}", "L125W with --task_lr_mult 3"),
    "LD3": ("sni-late3-2026-12-06/LD3-{mode}", "LD125 with --task_lr_mult 3"),
}


def main(mode):
    base = R / f"sni-v116-2026-11-30/{mode}/predictions-mt_lora.jsonl"
    mt = read_systems([f"mt_lora230={base}"])["mt_lora230"]
    not_mmlu = lambda recs: [r for r in recs if r["split"] == "seen" and not is_mmlu(r)]  # noqa: E731
    print(f"| run | what changed | seen | unseen | seen, no MMLU | - mt_lora230, seen | unseen | seen, no MMLU "
          f"| control gap, seen | unseen |\n|---" + "|---" * 9 + "|")
    print(f"| mt_lora230 | one LoRA, 230 steps | {task_mean([r for r in mt if r['split'] == 'seen']):.1f} "
          f"| {task_mean([r for r in mt if r['split'] == 'unseen']):.1f} | {task_mean(not_mmlu(mt)):.1f} |  |  |  |  |  |")
    for name, (folder, what) in RUNS.items():
        d = R / folder.format(mode=mode)
        if not (d / "predictions-hypernet.jsonl").exists():
            continue
        s = read_systems([f"h={d / 'predictions-hypernet.jsonl'}", f"c={d / 'predictions-hypernet_shuffled.jsonl'}"])
        h, c = s["h"], s["c"]
        means = [task_mean([r for r in h if r["split"] == sp]) for sp in ("seen", "unseen")] + [task_mean(not_mmlu(h))]
        cells = [paired_cell(h, mt, "seen"), paired_cell(h, mt, "unseen"), paired_cell(not_mmlu(h), not_mmlu(mt), "seen"),
                 paired_cell(h, c, "seen"), paired_cell(h, c, "unseen")]
        print(f"| {name} | {what} | " + " | ".join(f"{m:.1f}" for m in means) + " | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("prompt", "adapter_only"):
        sys.exit("usage: scoreboard.py prompt|adapter_only")
    main(sys.argv[1])
