"""V116's recipe, run by run: the validation-loss control gap during training, and ROUGE-L at 10
instances per task with its shuffled-instruction control and the mt_lora of the same data, all from
committed logs and predictions (no model needed).

    python results/sni-replicate-2026-12-06/scoreboard.py

Every run: the frozen mt_lora floor's step 50, 180 hypernetwork steps of 8 tasks x 2 examples,
--task_lr_mult 10 --def_dropout 1. The mt_lora each is compared with was trained on the same data:
mt_lora230 (sni-v116-2026-11-30) for ../shared/data/sni, make results' mt_lora (sni-cpu-2026-12-06,
also 230 steps) for data/sni. Only the first 10 instances per task are used (V116 was evaluated adapter
only on 20), so every cell is on the same instances within a data copy.
"""
import gzip
import io
import json
import re
import sys
import tarfile
from pathlib import Path

R = Path(__file__).resolve().parents[1]  # results/
sys.path[:0] = [str(R.parent), str(R / "sni-i116-2026-12-01")]
from by_answer import paired_cell, task_mean  # noqa: E402

HERE = R / "sni-replicate-2026-12-06"
CPU_TAR = R / "sni-cpu-2026-12-06/predictions.tar.gz"
SETTINGS = {"prompt": ("prompt", "sni-180"), "adapter_only": ("adapter_only", "sni-180-adapter_only")}
# run -> (data, seed, training log, predictions: setting -> (folder or "tar", name inside))
RUNS = {
    "V116 (2026-11-30)": ("../shared/data/sni", 0, R / "sni-visits-2026-11-30/logs/V116.log", R / "sni-v116-2026-11-30/{setting}"),
    "shared-s1": ("../shared/data/sni", 1, HERE / "shared-s1/hypernet.log", HERE / "shared-s1/{setting}"),
    "make results (2026-12-06)": ("data/sni", 0, R / "sni-cpu-2026-12-06/logs/train_hypernet.log", "tar"),
    "trimmed-s1": ("data/sni", 1, HERE / "trimmed-s1/hypernet.log", HERE / "trimmed-s1/{setting}"),
    "trimmed-s2": ("data/sni", 2, HERE / "trimmed-s2/hypernet.log", HERE / "trimmed-s2/{setting}"),
}


def first(recs, n=10):
    """The first n records per task (files are task-major in eval.py's fixed order)."""
    seen, out = {}, []
    for r in recs:
        seen[r["task"]] = seen.get(r["task"], 0) + 1
        if seen[r["task"]] <= n:
            out.append(r)
    return out


def jsonl(text):
    return first([json.loads(line) for line in text.splitlines() if line.strip()])


def predictions(where, setting, system):
    if where == "tar":
        with tarfile.open(CPU_TAR) as tar:
            f = tar.extractfile(f"{SETTINGS[setting][1]}/predictions-{system}.jsonl")
            return jsonl(io.TextIOWrapper(f).read()) if f else None
    path = Path(str(where).format(setting=SETTINGS[setting][0])) / f"predictions-{system}.jsonl"
    if path.exists():
        return jsonl(path.read_text())
    gz = path.with_name(path.name + ".gz")  # this folder's own predictions are gzipped
    return jsonl(gzip.decompress(gz.read_bytes()).decode()) if gz.exists() else None


def val_gaps(log):
    """val_loss_shuffled - val_loss at each validation step of a train.py log: '+0.004 / ...'."""
    if not log.exists():
        return "not run"
    pat = re.compile(r"step\s+(\d+) \|.*val_loss ([\d.]+) \| val_loss_shuffled ([\d.]+)")
    gaps = [(int(m[1]), float(m[3]) - float(m[2])) for m in map(pat.search, log.read_text().splitlines()) if m]
    return " / ".join(f"{g:+.3f}" for _, g in gaps) + (f" (steps {', '.join(str(s) for s, _ in gaps)})" if gaps else "")


def main():
    print("Validation-loss control gap (nats, held-out instances of seen tasks, definition not in the prompt):\n")
    print("| run | data | seed | gap at steps 59 / 119 / 179 |\n|---|---|---|---|")
    for name, (data, seed, log, _) in RUNS.items():
        print(f"| {name} | {data} | {seed} | {val_gaps(log)} |")
    mt = {"../shared/data/sni": R / "sni-v116-2026-11-30/{setting}", "data/sni": "tar"}
    for setting in SETTINGS:
        print(f"\nROUGE-L, {setting.replace('_', ' ')} (10 instances per task; `*`: the paired 95 % interval excludes 0):\n")
        print("| run | seen | unseen | - mt_lora, seen | unseen | control gap, seen | unseen |\n|---" + "|---" * 6 + "|")
        mts = {data: predictions(where, setting, "mt_lora") for data, where in mt.items()}
        for name, (data, _, _, where) in RUNS.items():
            h, c = predictions(where, setting, "hypernet"), predictions(where, setting, "hypernet_shuffled")
            if h is None or c is None:
                print(f"| {name} | not evaluated | | | | | |")
                continue
            m = mts[data]
            means = [task_mean([r for r in h if r["split"] == sp]) for sp in ("seen", "unseen")]
            cells = [paired_cell(h, m, sp) for sp in ("seen", "unseen")] + [paired_cell(h, c, sp) for sp in ("seen", "unseen")]
            print(f"| {name} | " + " | ".join(f"{x:.1f}" for x in means) + " | " + " | ".join(cells) + " |")
        for data, m in mts.items():
            print(f"\nmt_lora on {data}: seen {task_mean([r for r in m if r['split'] == 'seen']):.1f}, "
                  f"unseen {task_mean([r for r in m if r['split'] == 'unseen']):.1f}")


if __name__ == "__main__":
    main()
