"""The SNI results table from a fresh clone (`make results`): train, evaluate, write the table.

    python scripts/results.py --data_dir data/sni --out results/sni

Two lanes run side by side, one thread each (on a 2-core CPU that beats one two-threaded job):

    lane 1: mt_lora (--mt_steps, a checkpoint every 25 steps; by default as many steps, of as many
            sequences, as the hypernetwork's floor and the hypernetwork together)
    lane 2: per-task LoRA on the first --lora_tasks seen tasks that are not MMLU subjects, then the
            hypernetwork over mt_lora's --floor_step checkpoint (waits for lane 1 to write it)
    then:   eval.py, one call per group of systems (the base model's --base_systems, each alone:
            base, fewshot, base_chat by default, fewshot_chat on request;
            hypernet + its shuffled control, mt_lora + lora; the adapter groups again adapter-only,
            definition removed from their prompts), every system on the same instances
            (--max_per_task per task). A lane whose training is done takes the next group that is
            ready (the base model's as soon as the hypernetwork has a checkpoint), so with
            --eval_lanes above 2 the base model is evaluated while the others train. A last eval.py
            call per setting only assembles the table from the lanes' predictions

Runs (checkpoints: never committed) go to --runs; logs, the tables (copied from the evaluation
folders), a README with the commands, machine, date and each job's lane, start and wall time, and those
times in jobs.json go to --out. Every job resumes: an interrupted `make results` continues where it
stopped when run again (train.py --resume, eval.py reuses finished systems). The hypernetwork is
trained as results/sni-visits-2026-11-30 found best on all 116 tasks (--hn_flags): the definition only
in its adapter, never in the prompt, and its task path at 3 x lr (at 10 x, results/sni-escape-2026-12-06,
whether it reads the instruction depended on the seed). All of it is overridable.
"""
import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import data  # noqa: E402  (the repository's modules, from any working directory)
from eval import eval_dir  # noqa: E402

HN_FLAGS = "--tasks_per_step 8 --examples_per_task 2 --task_lr_mult 3 --def_dropout 1"
BASE_SYSTEMS = ("base", "fewshot", "base_chat", "fewshot_chat")  # the base model, no adapter
HN_SAVE_EVERY = 30  # the base model's eval groups start at the first of these checkpoints


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--ckpt_dir", default="checkpoints/smollm2-135m", help="base model (Meta layout)")
    p.add_argument("--data_dir", default="data/sni", help="SNI folder (tasks/, splits/); data/sni is the trimmed copy the repository carries")
    p.add_argument("--out", default="results/sni", help="output folder: README.md, tables, logs")
    p.add_argument("--runs", default="runs/results", help="training runs and evaluation files (checkpoints)")
    p.add_argument("--mt_steps", type=int, default=None, help="mt_lora steps, 4 tasks x 4 examples each (default: "
                                                              "--floor_step + --hn_steps, the hypernetwork's whole budget)")
    p.add_argument("--floor_step", type=int, default=50, help="the mt_lora checkpoint the hypernetwork is trained over "
                                                              "(a multiple of 25; 0: no floor)")
    p.add_argument("--hn_steps", type=int, default=180, help="hypernetwork steps over the floor (8 tasks x 2 examples each)")
    p.add_argument("--hn_flags", default=HN_FLAGS, help="more train.py flags for the hypernetwork")
    p.add_argument("--lora_tasks", type=int, default=12, help="seen tasks that get a per-task LoRA (0: none)")
    p.add_argument("--lora_steps", type=int, default=20, help="steps per task LoRA (4 examples each)")
    p.add_argument("--max_per_task", type=int, default=20, help="eval instances per task")
    p.add_argument("--train_flags", default="", help="more train.py flags for every run (e.g. '--max_len 256' for a smoke run)")
    p.add_argument("--eval_flags", default="", help="more eval.py flags")
    p.add_argument("--base_systems", default="base,fewshot,base_chat",
                   help="the base model's systems to decode, comma-separated, of " + ",".join(BASE_SYSTEMS) + " (fewshot_chat "
                        "is off by default: no target of the table needs it, and it is the slowest, about 12 %% of the evaluation)")
    p.add_argument("--no_adapter_only", action="store_true", help="skip the adapter-only evaluation")
    p.add_argument("--eval_lanes", type=int, default=2, help="eval.py processes at once (a GPU runs several well)")
    return p.parse_args(argv)


class Lanes:
    """Jobs on lanes side by side, one single-threaded subprocess a lane, each logging to <out>/logs/<name>.log.

    run(own, pool, pool_lanes): lane i first runs own[i] in order; then each of the first pool_lanes lanes
    (lanes with no own jobs are added up to that number) takes jobs from the shared pool, the first one in
    the pool's order that is ready, until the pool is empty. A job is {"name", "cmd"}, optionally "after"
    (names of jobs that must have finished) and "wait_for" (a predicate, e.g. a checkpoint exists). So a
    lane whose own jobs end early evaluates what is ready instead of waiting for the other lane. The first failure stops every lane
    at its next job; run() then exits with one line naming it."""

    def __init__(self, out, times, t0):
        self.out, self.times, self.t0 = out, times, t0
        self.done, self.errors, self.cond = set(), [], threading.Condition()

    def run(self, own, pool=(), pool_lanes=None):
        self.pool = list(pool)
        n = len(own) if pool_lanes is None else max(len(own), pool_lanes)
        own = list(own) + [[]] * (n - len(own))
        lanes = [threading.Thread(target=self.lane, args=(i, own[i], pool_lanes is None or i < pool_lanes))
                 for i in range(n)]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
        if self.errors:
            raise SystemExit("error: " + "; ".join(self.errors) + " — fix it and run the same command again: finished jobs are kept")

    def ready(self, job):
        return set(job.get("after", ())) <= self.done and job.get("wait_for", lambda: True)()

    def lane(self, i, own, takes_pool):
        for job in own:
            with self.cond:
                while not self.errors and not self.ready(job):
                    self.cond.wait(10)  # woken when a job ends; a file-based wait_for is polled
                if self.errors:
                    self.errors.append(f"{job['name']}: not started (another lane failed)")
                    return
            if not self.launch(i, job):
                return
        while takes_pool:
            with self.cond:
                while not self.errors and self.pool and not any(self.ready(j) for j in self.pool):
                    self.cond.wait(10)
                if self.errors or not self.pool:
                    return
                job = next(j for j in self.pool if self.ready(j))
                self.pool.remove(job)
            if not self.launch(i, job):
                return

    def launch(self, i, job) -> bool:
        name, cmd = job["name"], job["cmd"]
        log = self.out / "logs" / f"{name}.log"
        shown = shlex.join(["python", *cmd[1:]])  # as a user would type it
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] lane {i + 1}: {name} -> {log}", flush=True)
        t0 = time.time()
        with open(log, "a") as f:
            f.write(f"$ {shown}\n")
            f.flush()
            r = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
        with self.cond:
            self.times[name] = {"lane": i + 1, "start": round(t0 - self.t0, 1), "seconds": round(time.time() - t0, 1),
                                "command": shown}
            if r.returncode != 0:
                tail = log.read_text().strip().splitlines()[-1:] or ["(empty log)"]
                self.errors.append(f"{name} failed (exit {r.returncode}): {tail[0][:300]} (whole log: {log})")
            else:
                self.done.add(name)
            self.cond.notify_all()
        if r.returncode == 0:
            print(f"[{datetime.now(timezone.utc):%H:%M:%S}] lane {i + 1}: {name} done in {time.time() - t0:.0f} s", flush=True)
        return r.returncode == 0


def lora_task_names(data_dir, n):
    """The first n seen tasks of the split that are not MMLU subjects (51 near-identical tasks)."""
    seen = data.load_tasks(data_dir, log=None).seen
    return [t.name for t in seen if "mmmlu" not in t.name][:n]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    import torch
    gpu = f", GPU {torch.cuda.get_device_name()} (bf16)" if torch.cuda.is_available() else ""
    return f"{os.cpu_count()} CPU cores ({cpu}){gpu}, torch {torch.__version__}, Python {platform.python_version()}"


def main(argv=None):
    a = get_args(argv)
    out = (ROOT / a.out).resolve()  # an absolute --out stays as it is
    for d in (a.ckpt_dir, a.data_dir):
        if not (ROOT / d).is_dir():
            raise SystemExit(f"error: {d}: no such directory (run from the repository root; make demo-ckpt converts the demo model)")
    a.base_systems = a.base_systems.split(",")
    if set(a.base_systems) - set(BASE_SYSTEMS) or len(set(a.base_systems)) < len(a.base_systems):
        raise SystemExit(f"error: --base_systems {','.join(a.base_systems)}: expected distinct names of {','.join(BASE_SYSTEMS)}")
    if a.eval_lanes < 1:
        raise SystemExit(f"error: --eval_lanes {a.eval_lanes}: expected an integer >= 1")
    if a.mt_steps is None:
        a.mt_steps = a.floor_step + a.hn_steps
    if a.floor_step and (a.floor_step % 25 or a.floor_step > a.mt_steps):
        raise SystemExit(f"error: --floor_step {a.floor_step}: expected a multiple of 25 up to --mt_steps {a.mt_steps}")
    (out / "logs").mkdir(parents=True, exist_ok=True)
    runs = (ROOT / a.runs).resolve()
    py = [sys.executable]
    train = py + ["train.py", "--ckpt_dir", a.ckpt_dir, "--data_dir", a.data_dir, "--resume", "--log_every", "5",
                  "--keep_last", "100"] + shlex.split(a.train_flags)
    mt, hn, lr = runs / "mt_lora", runs / "hypernet", runs / "lora"
    floor = mt / f"step_{a.floor_step:06d}"
    lora_names = lora_task_names(ROOT / a.data_dir, a.lora_tasks) if a.lora_tasks else []

    jobs_mt = [{"name": "train_mt_lora", "cmd": train + ["--mode", "mt_lora", "--out_dir", str(mt), "--max_steps",
                                                         str(a.mt_steps), "--save_every", "25", "--eval_every", "50"]}]
    jobs_hn = []
    if lora_names:
        jobs_hn.append({"name": "train_lora", "cmd": train + ["--mode", "lora", "--out_dir", str(lr), "--tasks", ",".join(lora_names),
                                                              "--max_steps", str(a.lora_steps), "--eval_every", "0",
                                                              "--save_every", str(a.lora_steps)]})
    jobs_hn.append({"name": "train_hypernet", "cmd": train + ["--out_dir", str(hn), "--max_steps", str(a.hn_steps),
                                                              "--save_every", str(HN_SAVE_EVERY), "--eval_every", "60"]
                    + (["--floor", str(floor)] if a.floor_step else []) + shlex.split(a.hn_flags)})
    if a.floor_step:
        jobs_hn[-1]["wait_for"] = lambda: (floor / "state.json").is_file()

    # evaluation: one eval.py call per group of systems, taken by whichever lane is free once its group is
    # ready, in the pool's order (replayed with results/sni-cpu-2026-12-06's job times by its replay.py, it
    # ends the lanes no later than longest-first). The base model's groups need no training: they run as
    # soon as the hypernetwork has a first checkpoint, into that step's evaluation folder, whose predictions
    # eval.py then reuses at the last step.
    ev = py + ["eval.py", "--ckpt", str(hn), "--max_per_task", str(a.max_per_task)] + shlex.split(a.eval_flags)
    baselines = ["--mt_lora_ckpt", str(mt)] + (["--lora_ckpt", str(lr)] if lora_names else [])
    first = min(HN_SAVE_EVERY, a.hn_steps)  # the hypernetwork's first checkpoint (train.py also saves at the end)

    def group(systems, extra=(), **ready):
        return {"name": "eval_" + "adapter_only_" * ("--adapter_only" in extra) + "_".join(systems),
                "cmd": ev + list(extra) + ["--systems", ",".join(systems)], **ready}

    hn_systems, mt_systems = ["hypernet", "hypernet_shuffled"], ["mt_lora"] + ["lora"] * bool(lora_names)
    # the LoRA baselines wait for the hypernetwork too: eval.py files every system under the --ckpt run's step
    # and reuses only the base model's answers from another step
    hn_ready = {"after": ["train_hypernet"]}
    mt_ready = {"after": ["train_hypernet", "train_mt_lora"] + ["train_lora"] * bool(lora_names)}
    base = {"wait_for": lambda: (hn / f"step_{first:06d}" / "state.json").is_file()}
    at_first = ["--step", str(first)]
    base_group = lambda s: [group([s], at_first, **base)] if s in a.base_systems else []  # noqa: E731
    pool = [group(hn_systems, **hn_ready)] + base_group("fewshot") + base_group("fewshot_chat") \
        + [group(mt_systems, baselines, **mt_ready)]
    if not a.no_adapter_only:
        pool += [group(hn_systems, ["--adapter_only"], **hn_ready),
                 group(mt_systems, ["--adapter_only"] + baselines, **mt_ready)]
    pool += base_group("base_chat") + base_group("base")

    times = {}
    t0 = time.time()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lanes = Lanes(out, times, t0)
    lanes.run([jobs_mt, jobs_hn], pool, pool_lanes=a.eval_lanes)
    every = ",".join([s for s in BASE_SYSTEMS if s in a.base_systems] + hn_systems + mt_systems)
    settings = [("definition in the prompt", [])] + [("adapter only", ["--adapter_only"])] * (not a.no_adapter_only)
    tables = []
    for title, extra in settings:  # everything reused: this only assembles the table
        lanes.run([[{"name": "table" + "_adapter_only" * bool(extra),
                     "cmd": ev + baselines + extra + ["--systems", every]}]])
        res_dir = eval_dir(hn, a.data_dir, "default", a.hn_steps, bool(extra))
        copy = out / res_dir.name
        copy.mkdir(exist_ok=True)
        for f in ("table.md", "per_task.md", "per_category.md", "results.json"):
            (copy / f).write_text((res_dir / f).read_text())
        tables.append((title, copy))
    write_readme(a, argv, out, started, time.time() - t0, times, lora_names, tables)


def write_readme(a, argv, out, started, seconds, times, lora_names, tables):
    cmd = "python scripts/results.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    lines = [f"# SNI results ({started})", "",
             f"Reproduce from the repository root: `{cmd.strip()}` (`make results` runs it with the defaults).", "",
             f"Machine: {machine()}. Whole pipeline: {seconds / 60:.0f} min of wall clock.", "",
             f"Per-task LoRA trained on {len(lora_names)} seen tasks: {', '.join(lora_names) or 'none'}.", ""]
    for title, res_dir in tables:
        rel = os.path.relpath(res_dir, out)
        lines += [f"## {title}", "", (res_dir / "table.md").read_text().strip(), "",
                  f"Per task and per category: [{rel}/per_task.md]({rel}/per_task.md), "
                  f"[{rel}/per_category.md]({rel}/per_category.md); every number: {rel}/results.json "
                  f"(predictions: {a.runs}/hypernet/eval/{rel}/).", ""]
    lines += ["## Jobs", "", "Minutes after the pipeline's start; a lane runs one job at a time.", "",
              "| job | lane | start | wall time | command |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['lane']} | {v['start'] / 60:.1f} | {v['seconds'] / 60:.1f} min | `{v['command']}` |"
              for k, v in sorted(times.items(), key=lambda kv: kv[1]["start"])]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    (out / "jobs.json").write_text(json.dumps(times, indent=1) + "\n")
    print(f"wrote {out / 'README.md'}")


if __name__ == "__main__":
    main()
