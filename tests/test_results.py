"""scripts/results.py (make results) end to end on a tiny random model and a small SNI folder."""

import json
import shutil
import subprocess
import sys

from conftest import ROOT, make_tiny_ckpt

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
TASKS = {"task1_copy": str, "task2_upper": str.upper, "task3_reverse": lambda w: w[::-1], "task9_first": lambda w: w[0]}


def write_sni(root):
    (root / "tasks").mkdir(parents=True)
    (root / "splits" / "default").mkdir(parents=True)
    for name, f in TASKS.items():
        inst = [{"id": f"{name}-{i}", "input": w, "output": [f(w)]} for i, w in enumerate(WORDS)]
        (root / "tasks" / f"{name}.json").write_text(json.dumps({
            "Definition": [f"{name.split('_')[1]} the word"], "Categories": ["Word Games"], "Positive Examples":
            [{"input": "omega", "output": f("omega")}], "Instances": inst, "Instance License": ["MIT"]}))
    (root / "splits" / "default" / "train_tasks.txt").write_text("task1_copy\ntask2_upper\ntask3_reverse\n")
    (root / "splits" / "default" / "test_tasks.txt").write_text("task9_first\n")
    return root


def test_results_pipeline_trains_evaluates_and_resumes(tmp_path):
    ckpt = make_tiny_ckpt(tmp_path / "tiny", tokenizer="bytes", vocab_size=259, n_layers=2)
    sni = write_sni(tmp_path / "sni")
    out, runs = tmp_path / "out", tmp_path / "runs"
    cmd = [sys.executable, "scripts/results.py", "--ckpt_dir", str(ckpt), "--data_dir", str(sni), "--out", str(out),
           "--runs", str(runs), "--mt_steps", "25", "--floor_step", "25", "--hn_steps", "31", "--lora_tasks", "2",
           "--lora_steps", "2", "--max_per_task", "2", "--eval_lanes", "3",
           "--train_flags", "--d_h 32 --hn_layers 1 --rank 4 --lora_a 16 --lora_b 16 --max_len 160 --val_per_task 2",
           "--hn_flags", "--tasks_per_step 2 --examples_per_task 2 --task_lr_mult 10",
           "--eval_flags", "--max_len 200 --max_new_tokens 8"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    readme = (out / "README.md").read_text()
    assert "Per-task LoRA trained on 2 seen tasks: task1_copy, task2_upper." in readme
    # the base model's systems by default: base, fewshot, base_chat (fewshot_chat only with --base_systems)
    for name, systems in (("sni-31", ["base", "fewshot", "base_chat", "hypernet", "hypernet_shuffled", "mt_lora", "lora"]),
                          ("sni-31-adapter_only", ["base", "fewshot", "base_chat", "hypernet", "hypernet_shuffled",
                                                  "mt_lora", "lora"])):
        res = json.loads((out / name / "results.json").read_text())
        assert res["complete"] and list(res["systems"]) == systems
        assert res["tasks"] == {"seen": ["task1_copy", "task2_upper", "task3_reverse"], "unseen": ["task9_first"]}
        assert res["systems"]["hypernet"]["settings"]["adapter_only"] == name.endswith("adapter_only")
        assert (out / name / "table.md").read_text().strip() in readme
    # each job started once what it needs had finished; the base model's groups ran at the hypernetwork's
    # first checkpoint (step 30), and the table took their predictions from there
    jobs = json.loads((out / "jobs.json").read_text())
    end = {k: v["start"] + v["seconds"] for k, v in jobs.items()}
    for job, needs in (("eval_hypernet_hypernet_shuffled", ["train_hypernet"]),
                       ("eval_adapter_only_hypernet_hypernet_shuffled", ["train_hypernet"]),
                       ("eval_mt_lora_lora", ["train_mt_lora", "train_lora", "train_hypernet"]),
                       ("eval_adapter_only_mt_lora_lora", ["train_mt_lora", "train_lora", "train_hypernet"]),
                       ("train_hypernet", ["train_lora"]), ("table", [n for n in end if not n.startswith("table")])):
        assert jobs[job]["start"] >= max(end[n] for n in needs) - 0.1, (job, jobs)  # times are rounded to 0.1 s
    assert {jobs[n]["lane"] for n in ("train_mt_lora", "train_lora", "train_hypernet")} == {1, 2}
    for name in ("base", "fewshot", "base_chat"):
        log = (out / "logs" / f"eval_{name}.log").read_text()
        assert "--step 30 --systems " + name in log.splitlines()[0]
        assert f"{name}: reused {runs / 'hypernet' / 'eval' / 'sni-30'}" in (out / "logs" / "table.log").read_text()
    # the hypernetwork was trained over mt_lora's step-25 checkpoint
    state = json.loads((runs / "hypernet" / "step_000031" / "state.json").read_text())
    assert state["config"]["floor_ckpt"] == str((runs / "mt_lora" / "step_000025").resolve())
    assert state["config"]["task_lr_mult"] == 10
    # run again: every job resumes or is reused, nothing is retrained or regenerated
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    logs = {p.name: p.read_text() for p in (out / "logs").iterdir()}
    assert logs["train_mt_lora.log"].count("nothing to do") == 1
    assert logs["eval_hypernet_hypernet_shuffled.log"].count("hypernet: reused") == 1
    evals = {"eval_" + g for g in ("base", "fewshot", "base_chat", "hypernet_hypernet_shuffled", "mt_lora_lora")}
    evals |= {"eval_adapter_only_hypernet_hypernet_shuffled", "eval_adapter_only_mt_lora_lora"}
    assert {n[:-4] for n in logs if n.startswith("eval_")} == evals
    # scripts/tables.py rebuilds both tables from the predictions alone, with every checkpoint gone
    for step_dir in runs.rglob("step_*"):
        shutil.rmtree(step_dir)
    folders = [runs / "hypernet" / "eval" / n for n in ("sni-31", "sni-31-adapter_only")]
    before = {f: (f / "table.md").read_text() for f in folders}
    for f in folders:
        for name in ("table.md", "per_task.md", "per_category.md"):
            (f / name).unlink()
    # as when the last, assembling eval.py call is cut: the adapter-only folder lacks the base systems
    res = json.loads((folders[1] / "results.json").read_text())
    for name in ("base", "fewshot", "base_chat"):
        (folders[1] / f"predictions-{name}.jsonl").unlink()
        del res["cache"][name]
    (folders[1] / "results.json").write_text(json.dumps(res))
    r = subprocess.run([sys.executable, "scripts/tables.py", *map(str, folders)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    for f in folders:
        lines = (f / "table.md").read_text().splitlines()
        assert lines[-1].startswith("- tables rebuilt from the predictions by scripts/tables.py")
        assert "\n".join(lines[:-1]) + "\n" == before[f]
        assert (f / "per_category.md").read_text() == (out / f.name / "per_category.md").read_text()
    assert "base from sni-31/" in lines[-1] and "hypernet from sni-31-adapter_only/" in lines[-1]
    # --take: another run's folder holding only its hypernetwork systems takes its baselines from this one
    second = tmp_path / "second" / "sni-31"
    second.mkdir(parents=True)
    res = json.loads((folders[0] / "results.json").read_text())
    for name in ("hypernet", "hypernet_shuffled"):
        shutil.copy(folders[0] / f"predictions-{name}.jsonl", second)
    res["cache"] = {n: {**res["cache"][n], "ckpt": ["elsewhere"]} for n in ("hypernet", "hypernet_shuffled")}
    # as its own eval.py call wrote them: the decoding time of its two systems only
    res["speed"]["decode"] = {n: res["speed"]["decode"][n] for n in res["cache"]}
    res["notes"] = [n for n in res["notes"] if not n.startswith("decoding")]
    res["settings"]["ckpt"] = ["elsewhere"]
    (second / "results.json").write_text(json.dumps(res))
    tables = [sys.executable, "scripts/tables.py", str(second)]
    r = subprocess.run(tables + ["--take", str(folders[0])], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = (second / "table.md").read_text().splitlines()
    assert "\n".join(lines[:-1]) + "\n" == before[folders[0]]
    assert f"mt_lora from {folders[0]}/" in lines[-1] and "hypernet from sni-31/" in lines[-1]
    r = subprocess.run(tables, cwd=ROOT, capture_output=True, text=True)  # without it: the two hypernetwork rows
    assert r.returncode == 0 and list(json.loads((second / "results.json").read_text())["systems"]) == \
        ["hypernet", "hypernet_shuffled"]
    # other instances, or the other prompt mode: refused in one line
    res["settings"]["max_per_task"] = 3
    (second / "results.json").write_text(json.dumps(res))
    r = subprocess.run(tables + ["--take", str(folders[0])], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == \
        f"error: --take {folders[0]}: evaluated with other settings than {second} (max_per_task)"
    r = subprocess.run(tables + ["--take", str(folders[1])], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == f"error: --take {folders[1]}: no baseline (base, fewshot, " \
        f"base_chat, fewshot_chat, mt_lora, lora) that {second} lacks, with the definition in the prompt"


def test_results_errors_are_one_line(tmp_path):
    ckpt = make_tiny_ckpt(tmp_path / "tiny", tokenizer="bytes", vocab_size=259, n_layers=2)
    sni = write_sni(tmp_path / "sni")
    base = [sys.executable, "scripts/results.py", "--ckpt_dir", str(ckpt), "--data_dir", str(sni),
            "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs"), "--lora_tasks", "0"]
    # mt_lora's steps default to the hypernetwork's whole budget: its floor's steps + its own (30 + 180)
    r = subprocess.run(base + ["--floor_step", "30"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.strip() == "error: --floor_step 30: expected a multiple of 25 up to --mt_steps 210"
    r = subprocess.run(base + ["--floor_step", "50", "--mt_steps", "25"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.strip() == "error: --floor_step 50: expected a multiple of 25 up to --mt_steps 25"
    r = subprocess.run(base + ["--eval_lanes", "0"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.strip() == "error: --eval_lanes 0: expected an integer >= 1"
    r = subprocess.run(base + ["--base_systems", "base,fewshot-chat"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.strip() == \
        "error: --base_systems base,fewshot-chat: expected distinct names of base,fewshot,base_chat,fewshot_chat"
    # a job that fails stops the pipeline with that job's last log line; the other lane's job is not started
    r = subprocess.run(base + ["--train_flags", "--lr -1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    err = r.stderr.strip()
    assert r.returncode == 1 and err.count("\n") == 0, err
    assert err.startswith("error: train_mt_lora failed (exit 2): error: --lr -1.0: expected a number > 0"), err
    assert "train_hypernet: not started (another lane failed)" in err
