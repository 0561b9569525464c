"""The longer-budget SNI experiments and ablations, side by side on one GPU within a wall-clock budget.

    python scripts/sweep.py --ckpt_dir checkpoints/smollm2-135m --data_dir data/sni --runs runs/sweep \\
        --out results/sni-gpu --budget_s 480 --step_s 0.5

Every job is its own process (one GPU runs many small ones at once far better than one after the other):

    results      scripts/results.py, the `make results` table, unchanged (its mt_lora's step-50 checkpoint
                 is the floor of every hypernetwork below)
    mt_lora      one shared LoRA trained for 50 + N steps: the budget-matched baseline
    hn_prompt    hypernetwork over the floor for N steps, definition in every prompt
    hn_dd05      the same, definition dropped from half the prompts (--def_dropout 0.5)
    hn_adapter   the same, definition never in the prompt: the adapter is the task's only carrier
    abl_*        hn_adapter with one change: K = 1, K = 4, no module embeddings, plain LoRA output

N is what fits in the training share of the budget at --step_s seconds per step (measure it with
--calibrate, which runs every job for a few steps at once and prints the slowest job's seconds per step).
Then eval.py gives ROUGE-L on up to --max_per_task held-out instances per task, for the mt_lora and the
hypernetwork systems, with the definition in the prompt and adapter-only. Whatever is still running at
--budget_s is stopped; logs, metrics, evaluation tables and predictions (never checkpoints) are packed
into <out>/sweep.tar.gz and summarised in <out>/summary.md.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from plot import read_metrics  # scripts/plot.py: metrics.jsonl -> records, one-line errors

ROOT = Path(__file__).resolve().parent.parent
HN = "--tasks_per_step 8 --examples_per_task 2 --task_lr_mult 10"
ADAPTER_ONLY = HN + " --def_dropout 1"
RUNS = {  # name -> train.py flags; every hypernetwork is trained over the same frozen floor
    "mt_lora": "--mode mt_lora",
    "hn_prompt": HN,
    "hn_dd05": HN + " --def_dropout 0.5",
    "hn_adapter": ADAPTER_ONLY,
    "abl_k1": ADAPTER_ONLY + " --iterations 1",
    "abl_k4": ADAPTER_ONLY + " --iterations 4",
    "abl_no_emb": ADAPTER_ONLY + " --no_module_emb",
    "abl_plain": ADAPTER_ONLY + " --kind plain",
}
FLOOR_STEPS = 50
# (run, eval.py flags): prompt mode for the runs that saw the definition, adapter-only for the rest;
# the ablations' shuffled control is left to their validation loss (val_loss_shuffled) to save time
EVALS = [("hn_prompt", "--systems base,hypernet,hypernet_shuffled,mt_lora"),
         ("hn_adapter", "--adapter_only --systems hypernet,hypernet_shuffled,mt_lora"),
         ("hn_dd05", "--systems hypernet,hypernet_shuffled"),
         ("hn_dd05", "--adapter_only --systems hypernet,hypernet_shuffled"),
         ("abl_k1", "--adapter_only --systems hypernet"),
         ("abl_k4", "--adapter_only --systems hypernet"),
         ("abl_no_emb", "--adapter_only --systems hypernet"),
         ("abl_plain", "--adapter_only --systems hypernet")]


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--ckpt_dir", default="checkpoints/smollm2-135m")
    p.add_argument("--data_dir", default="data/sni")
    p.add_argument("--runs", default="runs/sweep", help="runs and checkpoints")
    p.add_argument("--out", default="results/sni-gpu", help="summary.md, sweep.json, sweep.tar.gz")
    p.add_argument("--budget_s", type=float, default=480, help="wall clock for everything; jobs still running then are stopped")
    p.add_argument("--train_frac", type=float, default=0.55, help="share of the budget for training")
    p.add_argument("--step_s", type=float, default=None, help="seconds per step of the slowest job with all running (--calibrate)")
    p.add_argument("--calibrate", action="store_true", help="run every training job for --calib_steps steps at once; print seconds per step")
    p.add_argument("--calib_steps", type=int, default=8)
    p.add_argument("--only", default=None, help="comma-separated subset of the runs (mt_lora is always trained)")
    p.add_argument("--max_per_task", type=int, default=20)
    p.add_argument("--eval_flags", default="--batch_size 64", help="more eval.py flags")
    p.add_argument("--train_flags", default="", help="more train.py flags for every run")
    p.add_argument("--results_flags", default="--max_per_task 20 --eval_flags '--batch_size 64'",
                   help="scripts/results.py flags ('' with --no_results: skip it)")
    p.add_argument("--no_results", action="store_true", help="do not run scripts/results.py (the floor must then exist)")
    p.add_argument("--floor", default=None, help="default: <runs>/results/mt_lora/step_000050")
    return p.parse_args(argv)


class Job:
    def __init__(self, name, cmd, log):
        self.name, self.cmd, self.log, self.t0, self.t1, self.rc = name, cmd, log, time.time(), None, None
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as f:
            f.write("$ " + shlex.join(cmd) + "\n")
            f.flush()
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                         env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})

    def poll(self):
        if self.rc is None and self.proc.poll() is not None:
            self.rc, self.t1 = self.proc.returncode, time.time()
        return self.rc

    def stop(self):
        if self.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.rc, self.t1 = "stopped", time.time()

    def record(self):
        return {"cmd": shlex.join(self.cmd), "rc": self.rc, "seconds": round((self.t1 or time.time()) - self.t0, 1)}


def wait_all(jobs, until):
    while any(j.poll() is None for j in jobs) and time.time() < until:
        time.sleep(2)
    for j in jobs:
        j.stop()


def train_cmd(a, name, steps, floor, eval_every, out_dir=None):
    flags = RUNS[name]
    cmd = [sys.executable, "train.py", "--ckpt_dir", a.ckpt_dir, "--data_dir", a.data_dir, "--out_dir", str(out_dir or Path(a.runs) / name),
           "--overwrite", "--max_steps", str(steps), "--log_every", "5", "--eval_every", str(eval_every),
           "--save_every", str(eval_every or steps), "--keep_last", "1"]
    if name != "mt_lora" and floor:
        cmd += ["--floor", str(floor)]
    return cmd + shlex.split(flags) + shlex.split(a.train_flags)


def seconds_per_step(run_dir: Path) -> float:
    """(elapsed at the last step - elapsed at step 2) / steps between: start-up and the first steps excluded."""
    recs = read_metrics(run_dir)
    first = next(r for r in recs if r["step"] >= 2)
    return (recs[-1]["elapsed"] - first["elapsed"]) / max(1, recs[-1]["step"] - first["step"])


def pack(a, out: Path, record: dict):
    """Everything but checkpoints into out/sweep.tar.gz; the job table and the final metrics into summary.md."""
    (out / "sweep.json").write_text(json.dumps(record, indent=1) + "\n")
    runs = Path(a.runs)
    lines = ["| run | last step | val_loss | val_loss_shuffled | gap | adapter_cos | task_share |", "|---|---|---|---|---|---|---|"]
    for name in RUNS:
        try:
            recs = read_metrics(runs / name)
        except ValueError:  # not run, or nothing logged
            recs = []
        v = [r for r in recs if "val_loss" in r]
        if not v:
            lines.append(f"| {name} | {recs[-1]['step'] if recs else '-'} | - | - | - | - | - |")
            continue
        r = v[-1]
        sh, val = r.get("val_loss_shuffled"), r["val_loss"]
        cells = [f"{sh:.4f}", f"{sh - val:+.4f}"] if sh is not None else ["-", "-"]
        cells += [f"{r[k]:.3f}" if k in r else "-" for k in ("adapter_cos", "task_share")]
        lines.append(f"| {name} | {r['step']} | {val:.4f} | " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    with tarfile.open(out / "sweep.tar.gz", "w:gz") as tar:
        for p in sorted(runs.rglob("*")):
            if p.is_file() and not any(part.startswith("step_") for part in p.relative_to(runs).parts[:-1]) \
                    and p.suffix not in (".pth", ".pt", ".safetensors") and not p.name.startswith("."):
                tar.add(p, arcname=str(Path("runs") / p.relative_to(runs)))
        for p in sorted(out.rglob("*")):
            if p.is_file() and p.name != "sweep.tar.gz":
                tar.add(p, arcname=str(Path("out") / p.relative_to(out)))
    print("\n".join(lines), flush=True)


def main(argv=None):
    a = get_args(argv)
    t_start = time.time()
    deadline = t_start + a.budget_s
    only = set(a.only.split(",")) if a.only else set(RUNS)
    if only - set(RUNS):
        raise SystemExit(f"error: --only {a.only}: unknown runs {sorted(only - set(RUNS))}; expected some of {','.join(RUNS)}")
    if a.step_s is None and not a.calibrate:
        raise SystemExit("error: --step_s: give seconds per step (run --calibrate first)")
    runs, out = Path(a.runs), Path(a.out)
    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    if a.calibrate:  # every training job at once for a few steps; the results lanes stood in for by two more
        names = list(RUNS) + ["mt_lora"] * 2
        jobs = [Job(f"calib_{i}_{n}", train_cmd(a, n, a.calib_steps, None, 0, runs / f"calib_{i}_{n}"), logs / f"calib_{i}_{n}.log")
                for i, n in enumerate(names)]
        wait_all(jobs, deadline)
        per = {j.name: (seconds_per_step(runs / j.name) if j.rc == 0 else None) for j in jobs}
        failed = [j.name for j in jobs if j.rc != 0]
        print(json.dumps({"seconds_per_step": per, "failed": failed}, indent=1))
        ok = [v for v in per.values() if v]
        print(f"calibrate: slowest {max(ok) if ok else float('nan'):.3f} s/step with {len(jobs)} jobs at once; failed: {failed or 'none'}")
        return 1 if failed else 0
    floor = Path(a.floor) if a.floor else runs / "results" / "mt_lora" / f"step_{FLOOR_STEPS:06d}"
    t_train = a.budget_s * a.train_frac - 30  # 30 s: start-up, loading, the last validation
    n_total = max(FLOOR_STEPS + 10, int(t_train / a.step_s))
    n_hn = n_total - FLOOR_STEPS
    eval_every = max(5, n_hn // 4)
    record = {"budget_s": a.budget_s, "step_s": a.step_s, "hypernet_steps": n_hn, "mt_lora_steps": n_total,
              "floor": str(floor), "jobs": {}}
    print(f"sweep: hypernetworks {n_hn} steps over {floor}, mt_lora {n_total} steps; budget {a.budget_s:.0f} s", flush=True)
    jobs = {}
    if not a.no_results:
        jobs["results"] = Job("results", [sys.executable, "scripts/results.py", "--ckpt_dir", a.ckpt_dir, "--data_dir", a.data_dir,
                                          "--runs", str(runs / "results"), "--out", str(out / "results_sni")]
                              + shlex.split(a.results_flags), logs / "results.log")
    jobs["mt_lora"] = Job("mt_lora", train_cmd(a, "mt_lora", n_total, None, eval_every), logs / "mt_lora.log")
    while not (floor / "state.json").is_file():  # hypernetworks start when the floor exists
        if time.time() > deadline or (jobs.get("results") and jobs["results"].poll() not in (None, 0)):
            break
        time.sleep(2)
    for name in RUNS:
        if name != "mt_lora" and name in only:
            jobs[name] = Job(name, train_cmd(a, name, n_hn, floor, eval_every), logs / f"{name}.log")
    train_jobs = [j for n, j in jobs.items() if n != "results"]
    wait_all(train_jobs, t_start + a.budget_s * a.train_frac + 60)  # a minute's grace, then evaluation starts regardless
    for n, flags in EVALS:
        if (runs / n / "config.json").is_file():
            key = f"eval_{n}" + "_adapter_only" * ("--adapter_only" in flags)
            cmd = [sys.executable, "eval.py", "--ckpt", str(runs / n), "--mt_lora_ckpt", str(runs / "mt_lora"),
                   "--max_per_task", str(a.max_per_task)] + shlex.split(flags) + shlex.split(a.eval_flags)
            jobs[key] = Job(key, cmd, logs / f"{key}.log")
    wait_all(list(jobs.values()), deadline)
    record["jobs"] = {n: j.record() for n, j in jobs.items()}
    record["wall_s"] = round(time.time() - t_start, 1)
    pack(a, out, record)
    print(json.dumps(record["jobs"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
