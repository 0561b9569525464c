"""Task-specific weights, or only more data? On the 31 seen tasks past the label prior, with the
oracles' data budget, all started from mt_lora230: per-task LoRAs (oracle230), one LoRA for the 31
(joint31) and the hypernetwork over mt_lora230 as a trainable floor (hyper31 and hyper31s1, two
seeds, each with its shuffled-instruction control); then what fails in hyper31: a learned code per
task instead of the definition (hyper31id), no decoder, each task's adapter learned directly
(bank31), and the task-path lr that keeps the decoder's gradient live (hyper31m3); the bank with
plain LoRAs (bank31p) and with every row started at one draw (bank31s), and a text hypernetwork
fitted to bank31s's rows (dist31s, scripts/distil.py); hyper31 with a direct path from the code to
the adapter (hyper31d, --direct_rank 32), and that path set to the least-squares linear map from
the codes to bank31s's rows (lin31s, distil.py --linear); hyper31d at seeds 1 and 2 (hyper31ds1,
hyper31ds2, beside joint31s2), at the bank's task-path lr (hyper31d3) and without the decoder
(hyper31k0: --iterations 0, adapter = S + (C e) U) and at half its task-path lr (hyper31k0h); hyper31k0
trained at the same budget over all 116 training tasks (hyper116k0, beside its shared LoRA joint116),
scored on the same 31 seen tasks (eval.py --tasks); "ao" rows: joint31, hyper31k0, joint31s1 and
hyper31ds1 decoded without the definition in the prompt (eval.py --adapter_only; trained with it);
"mean" rows: every task given the mean of the adapters of the run's training tasks (eval.py's
hypernet_mean); "dd": joint31 and hyper31k0 trained with the definition left out of half the training
prompts (train.py --def_dropout 0.5), decoded both ways, and at --seed 1 and --seed 2 (dds1, dds2); "dq": hyper31k0
with a quarter of them left out (--def_dropout 0.25), decoded with the definition; "a1": the same with
the definition never in the training prompts (--def_dropout 1), decoded both ways; "116dd": hyper116k0 and
joint116 trained with --def_dropout 0.5, decoded both ways; "x3": the three seeds averaged instance by instance (the same instances in every seed; under each such pair, the three seeds' own differences
and a t interval over seeds, which the instance bootstrap does not see). The definition in the prompt,
10 held-out instances a task, paired 95 % bootstrap (`*`: the interval excludes 0).

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

DD = (("hyper31k0dd", "joint31dd"),  # --def_dropout 0.5
      ("hyper31k0dds1", "joint31dds1"),  # and at --seed 1
      ("hyper31k0dds2", "joint31dds2"),  # and at --seed 2
      ("hyper116k0dd", "joint116dd"),  # over all 116 training tasks
      ("hyper31k0a1", "joint31a1"))  # --def_dropout 1
DD_SEEDS = ("", "s1", "s2")  # hyper31k0dd{seed}, joint31dd{seed}; joint31{seed}: that seed's LoRA trained without dropout


def dd_files(hyper, joint):
    """A definition-dropout pair's predictions: the joint LoRA decoded both ways, the hypernetwork adapter only
    (its rows with the definition come with the other hypernetworks')."""
    return {joint: HERE / f"{joint}/predictions-mt_lora.jsonl",
            f"{joint} ao": HERE / f"{joint}/adapter_only/predictions-mt_lora.jsonl",
            **{f"{hyper} ao{s}": HERE / f"{hyper}/adapter_only/predictions-hypernet{s.replace(' ', '_')}.jsonl"
               for s in ("", " shuffled", " mean")}}


SYSTEMS = {  # the first is the reference
    "mt_lora230": oracle.SYSTEMS["mt_lora230"],
    "oracle230": oracle.SYSTEMS["oracle230"],
    "joint31": HERE / "joint31/predictions-mt_lora.jsonl",
    "joint31s1": HERE / "joint31s1/predictions-mt_lora.jsonl",  # the same with --seed 1
    "joint31s2": HERE / "joint31s2/predictions-mt_lora.jsonl",  # and --seed 2
    "joint116": HERE / "joint116/predictions-mt_lora.jsonl",  # the same budget over all 116 training tasks
    "joint31 ao": HERE / "joint31/adapter_only/predictions-mt_lora.jsonl",  # ao: the definition not in the prompt
    "hyper31k0 ao": HERE / "hyper31k0/adapter_only/predictions-hypernet.jsonl",
    "hyper31k0 ao shuffled": HERE / "hyper31k0/adapter_only/predictions-hypernet_shuffled.jsonl",
    "joint31s1 ao": HERE / "joint31s1/adapter_only/predictions-mt_lora.jsonl",
    "hyper31ds1 ao": HERE / "hyper31ds1/adapter_only/predictions-hypernet.jsonl",
    "hyper31ds1 ao shuffled": HERE / "hyper31ds1/adapter_only/predictions-hypernet_shuffled.jsonl",
    **{k: v for hyper, joint in DD for k, v in dd_files(hyper, joint).items()},
    "hyper31": HERE / "hyper31/predictions-hypernet.jsonl",
    "hyper31 shuffled": HERE / "hyper31/predictions-hypernet_shuffled.jsonl",
    "hyper31s1": HERE / "hyper31s1/predictions-hypernet.jsonl",  # the same with --seed 1
    "hyper31s1 shuffled": HERE / "hyper31s1/predictions-hypernet_shuffled.jsonl",
    **{f"{arm}{s}": HERE / f"{arm}/predictions-hypernet{s.replace(' ', '_')}.jsonl"  # shuffled: codes or rows permuted
       for arm in ("hyper31id", "bank31", "hyper31m3", "bank31p", "bank31s", "dist31s", "hyper31d", "lin31s",
                   "hyper31ds1", "hyper31ds2", "hyper31d3", "hyper31k0", "hyper31k0h", "hyper116k0",
                   "hyper31k0dd", "hyper31k0dds1", "hyper31k0dds2", "hyper31k0dq", "hyper31k0a1", "hyper116k0dd")
       for s in ("", " shuffled", " mean")},
}


def arm_pairs(hyper, joint):
    """A definition-dropout hypernetwork against its joint LoRA and its controls, decoded both ways."""
    return [(hyper, joint), (hyper, f"{hyper} shuffled"), (f"{hyper} ao", f"{joint} ao"),
            (f"{hyper} ao", f"{hyper} ao shuffled"), (f"{hyper} ao", f"{hyper} ao mean")]


T975 = {2: 4.303}  # Student's t, 97.5 % quantile, by degrees of freedom (3 seeds: 2)
SEEDS = {  # seed averages: their members, seed by seed (pairs of them are compared seed by seed too)
    "joint31 x3": ["joint31", "joint31s1", "joint31s2"], "hyper31d x3": ["hyper31d", "hyper31ds1", "hyper31ds2"],
    "hyper31d shuffled x3": [f"{a} shuffled" for a in ("hyper31d", "hyper31ds1", "hyper31ds2")],
    **{f"{arm}{s} x3": [f"{arm}{seed}{s}" for seed in DD_SEEDS]  # definition dropout, both ways
       for arm, suffixes in (("joint31dd", ("", " ao")),
                             ("hyper31k0dd", ("", " shuffled", " mean", " ao", " ao shuffled", " ao mean")))
       for s in suffixes}}
PAIRS = [("hyper31", "joint31"), ("hyper31s1", "joint31s1"), ("hyper31s1", "joint31"), ("joint31s1", "joint31"),
         ("hyper31", "hyper31 shuffled"), ("hyper31s1", "hyper31s1 shuffled"),
         ("oracle230", "joint31"), ("oracle230", "joint31s1"), ("oracle230", "hyper31"), ("oracle230", "hyper31s1"),
         ("oracle230", "hyper31 shuffled"), ("oracle230", "hyper31s1 shuffled"),
         ("hyper31id", "hyper31"), ("hyper31id", "joint31"), ("hyper31id", "hyper31id shuffled"),
         ("bank31", "joint31"), ("bank31", "hyper31"), ("bank31", "bank31 shuffled"), ("oracle230", "bank31"),
         ("hyper31m3", "hyper31"), ("hyper31m3", "joint31"), ("hyper31m3", "hyper31m3 shuffled"),
         ("bank31p", "joint31"), ("bank31p", "bank31"), ("bank31p", "bank31p shuffled"), ("oracle230", "bank31p"),
         ("bank31s", "joint31"), ("bank31s", "bank31"), ("bank31s", "bank31s shuffled"),
         ("dist31s", "bank31s"), ("dist31s", "joint31"), ("dist31s", "hyper31"), ("dist31s", "dist31s shuffled"),
         ("hyper31d", "joint31"), ("hyper31d", "hyper31"), ("hyper31d", "bank31s"), ("hyper31d", "bank31"),
         ("hyper31d", "hyper31d shuffled"), ("oracle230", "hyper31d"),
         ("lin31s", "bank31s"), ("lin31s", "joint31"), ("lin31s", "hyper31"), ("lin31s", "lin31s shuffled"),
         ("hyper31ds1", "joint31s1"), ("hyper31ds1", "hyper31s1"), ("hyper31ds1", "hyper31ds1 shuffled"),
         ("hyper31ds2", "joint31s2"), ("hyper31ds2", "hyper31ds2 shuffled"), ("joint31s2", "joint31"),
         ("hyper31d x3", "joint31 x3"), ("hyper31d x3", "hyper31d shuffled x3"),
         ("hyper31d3", "joint31"), ("hyper31d3", "hyper31d"), ("hyper31d3", "hyper31d3 shuffled"),
         ("hyper31k0", "joint31"), ("hyper31k0", "hyper31d"), ("hyper31k0", "hyper31k0 shuffled"),
         ("hyper31k0h", "joint31"), ("hyper31k0h", "hyper31k0"), ("hyper31k0h", "hyper31k0h shuffled"),
         ("hyper116k0", "joint116"), ("hyper116k0", "hyper31k0"), ("hyper116k0", "hyper116k0 shuffled"),
         ("joint116", "joint31"), ("hyper31k0 ao", "joint31 ao"), ("hyper31k0 ao", "hyper31k0 ao shuffled"),
         ("joint31 ao", "joint31"), ("hyper31k0 ao", "hyper31k0"),
         ("hyper31ds1 ao", "joint31s1 ao"), ("hyper31ds1 ao", "hyper31ds1 ao shuffled"), ("hyper31ds1 ao", "hyper31ds1"),
         *(pair for hyper, joint in DD for pair in arm_pairs(hyper, joint)),
         *(pair for s in DD_SEEDS for pair in ((f"hyper31k0dd{s}", f"joint31{s}"), (f"joint31dd{s}", f"joint31{s}"),
                                               ("oracle230", f"hyper31k0dd{s}"))),
         ("hyper31k0dd", "hyper31k0"), ("hyper31k0a1 ao", "joint31"), ("hyper31k0dd ao", "hyper31k0 ao"), ("joint31dd ao", "joint31 ao"),
         ("hyper31k0dd ao", "hyper31k0dd"), ("joint31dd ao", "joint31dd"), ("hyper31k0a1", "joint31"),
         ("hyper31k0dd x3", "joint31dd x3"), ("hyper31k0dd x3", "hyper31k0dd shuffled x3"),
         ("hyper31k0dd x3", "hyper31k0dd mean x3"), ("hyper31k0dd x3", "joint31 x3"),
         ("oracle230", "hyper31k0dd x3"),
         ("hyper31k0dq", "joint31"), ("hyper31k0dq", "hyper31k0dq shuffled"), ("hyper31k0dq", "hyper31k0dd"),
         ("hyper31k0dq", "hyper31k0"), ("hyper31k0dq", "joint31dd"),
         ("hyper31k0dd ao x3", "joint31dd ao x3"), ("hyper31k0dd ao x3", "hyper31k0dd ao shuffled x3"),
         ("hyper31k0dd ao x3", "hyper31k0dd ao mean x3"), ("hyper31k0dd ao x3", "joint31 x3"),
         ("hyper116k0dd", "hyper116k0"), ("hyper116k0dd", "hyper31k0dd"),
         ("hyper116k0dd", "joint116"), ("hyper116k0dd", "joint31"), ("joint116dd", "joint31dd"),
         ("hyper31k0a1 ao", "hyper31k0dd ao"), ("joint31a1 ao", "joint31dd ao"), ("joint31a1 ao", "joint31"),
         *((a, f"{a} mean") for a in ("hyper31d", "hyper31ds1", "hyper31ds2", "hyper31d3", "hyper31k0", "hyper31k0h",
                                      "hyper116k0", *(f"hyper31k0dd{s}" for s in DD_SEEDS),
                                      "hyper116k0dd"))]


def seed_mean(runs):
    """The runs' records averaged instance by instance (every run holds the same instances)."""
    keyed = [{(r["task"], r["id"]): r for r in rs} for rs in runs]
    return [{**r, **{m: statistics.mean(k[r["task"], r["id"]][m] for k in keyed) for m in ("rougeL", "exact_match")}}
            for r in runs[0]]


def main(data_dir):
    kinds = oracle.seen_kinds(data_dir)[1]
    systems = {k: [json.loads(line) for line in open(p)] for k, p in SYSTEMS.items() if p.is_file()}
    systems.update({k: seed_mean([systems[r] for r in runs]) for k, runs in SEEDS.items() if set(runs) <= set(systems)})
    t31 = {r["task"] for r in systems["joint31"] if r["split"] == "seen"}
    unseen = {r["task"] for r in systems["joint31"] if r["split"] == "unseen"}
    keep = {k: [r for r in rs if r["task"] in t31 | unseen] for k, rs in systems.items()}
    by_split = {split: {k: [r for r in rs if r["split"] == split] for k, rs in keep.items()} for split in ("seen", "unseen")}
    names = list(systems)
    has = {k: {r["task"] for r in rs} for k, rs in keep.items()}
    print("ROUGE-L, mean over the tasks: the 31 seen tasks past the label prior, and the 32 unseen tasks "
          "(n/a: a system without them); each minus mt_lora230 with its paired 95 % interval\n")
    print("| system | seen | unseen | seen - mt_lora230 | unseen - mt_lora230 |\n|---|---|---|---|---|")
    for n in names:
        cells, diffs = [], []
        for split, ts in (("seen", t31), ("unseen", unseen)):
            part, ok = by_split[split], ts <= has[n]
            cells.append(f"{by_answer.task_mean(part[n]):.1f}" if ok else "n/a")
            diffs.append(by_answer.paired_cell(part[n], part["mt_lora230"], split) if ok and n != "mt_lora230" else "")
        print(f"| {n} | " + " | ".join(cells + diffs) + " |")
    print()
    for a, b in (pair for pair in PAIRS if set(pair) <= set(systems)):
        for split, part in by_split.items():
            pa, pb = part[a], part[b]
            if pa and pb:
                print(f"{a} - {b}, {split}: {by_answer.paired_cell(pa, pb, split)}")
                if a in SEEDS and b in SEEDS:  # the interval above resamples instances only; this one, seeds
                    d = [by_answer.task_mean(part[x]) - by_answer.task_mean(part[y]) for x, y in zip(SEEDS[a], SEEDS[b])]
                    m, h = statistics.mean(d), T975[len(d) - 1] * statistics.stdev(d) / len(d) ** 0.5
                    print(f"    per seed {', '.join(f'{x:+.1f}' for x in d)}: mean {m:+.1f}, t interval over seeds "
                          f"[{m - h:+.1f}, {m + h:+.1f}]")

    print("\nTraining logs (logs/metrics.jsonl): validation loss on the 31 tasks' held-out instances (4 a task) "
          "at step 154, each task's own adapter and another's (shuffled); task_share at step 154; the task path's "
          "gradient norm (grad_task: P, and the code table of hyper31id; the table of bank31), median over steps "
          "100-154; and the mean training loss over steps 78-154 (the fit: the same draws for the arms of one seed, "
          "about 80 % of them repeating an instance trained on before; the 116-task arms: validation on all 116 tasks, "
          "and hardly any repeat)\n")
    print("| arm | val_loss | val_loss_shuffled | task_share | grad_task | training loss, steps 78-154 |\n"
          "|---|---|---|---|---|---|")
    for arm in ("joint31", "joint31s1", "hyper31", "hyper31s1", "hyper31id", "bank31", "bank31x10", "hyper31m3",
                "bank31p", "bank31s", "hyper31d", "hyper31ds1", "joint31s2", "hyper31ds2", "hyper31d3", "hyper31k0",
                "hyper31k0h", "joint116", "hyper116k0", "joint31dd", "hyper31k0dd", "joint31dds1", "hyper31k0dds1",
                "joint31dds2", "hyper31k0dds2", "hyper31k0dq", "joint31a1", "hyper31k0a1", "joint116dd", "hyper116k0dd"):
        path = HERE / arm / "logs/metrics.jsonl"
        if path.is_file():
            rows = [json.loads(line) for line in open(path)]
            last = rows[-1]
            g = [r["grad_task"] for r in rows if r["step"] >= 100 and "grad_task" in r]
            online = [r["loss"] for r in rows if r["step"] >= 78]
            fit = f"{statistics.mean(online):.4f}" if online else f"n/a (stopped at step {last['step']})"
            cell = lambda k, f: f.format(last[k]) if k in last else "n/a"  # noqa: E731
            print(f"| {arm} | {cell('val_loss', '{:.4f}')} | {cell('val_loss_shuffled', '{:.4f}')} | "
                  f"{cell('task_share', '{:.2f}')} | {f'{statistics.median(g):.1e}' if g else 'n/a'} | "
                  f"{fit} |")

    print("\nPer seen task (ROUGE-L over its 10 instances; the shuffled controls in each arm's per_task.md):\n")
    names = [n for n in names if not n.endswith(("shuffled", "mean", "x3"))]
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
