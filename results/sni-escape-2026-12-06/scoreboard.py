"""ROUGE-L of this folder's full runs beside V116's recipe on the same data copy (data/sni), from
committed logs and predictions: sni-replicate-2026-12-06's scoreboard with these runs, then the
same differences on the seen tasks that are not MMLU subjects (45 of the 116 seen tasks are; the
demo model answers them at chance, see sni-p116-2026-12-02).

    python results/sni-escape-2026-12-06/scoreboard.py
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "sni-replicate-2026-12-06"), str(HERE.parent / "sni-p116-2026-12-02")]
import scoreboard as sb  # noqa: E402
from by_mmlu import is_mmlu  # noqa: E402

old = {k: v for k, v in sb.RUNS.items() if v[0] == "data/sni"}  # make results, trimmed-s1, trimmed-s2
sb.RUNS = {**old, **{f"tlm3-s{s}": ("data/sni", s, HERE / f"tlm3-s{s}/hypernet.log", HERE / f"tlm3-s{s}/{{setting}}")
                     for s in (0, 1)}}


def no_mmlu():
    print("\nSeen tasks that are not MMLU subjects (71 tasks, 10 instances each):\n")
    print("| run | setting | seen, no MMLU | - mt_lora | control gap |\n|---|---|---|---|---|")
    for setting in sb.SETTINGS:
        keep = lambda recs: [r for r in recs if r["split"] == "seen" and not is_mmlu(r)]  # noqa: E731
        mt = keep(sb.predictions("tar", setting, "mt_lora"))
        print(f"| mt_lora | {setting} | {sb.task_mean(mt):.1f} | | |")
        for name, (_, _, _, where) in sb.RUNS.items():
            h, c = sb.predictions(where, setting, "hypernet"), sb.predictions(where, setting, "hypernet_shuffled")
            if h is None or c is None:
                print(f"| {name} | {setting} | not evaluated | | |")
                continue
            h, c = keep(h), keep(c)
            print(f"| {name} | {setting} | {sb.task_mean(h):.1f} | {sb.paired_cell(h, mt, 'seen')} | {sb.paired_cell(h, c, 'seen')} |")


if __name__ == "__main__":
    sb.main()
    no_mmlu()
