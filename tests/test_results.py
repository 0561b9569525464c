"""scripts/results.py (make results) end to end on a tiny random model and a small SNI folder."""

import json
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
           "--runs", str(runs), "--mt_steps", "25", "--floor_step", "25", "--hn_steps", "2", "--lora_tasks", "2",
           "--lora_steps", "2", "--max_per_task", "2",
           "--train_flags", "--d_h 32 --hn_layers 1 --rank 4 --lora_a 16 --lora_b 16 --max_len 160 --val_per_task 2",
           "--hn_flags", "--tasks_per_step 2 --examples_per_task 2 --task_lr_mult 10",
           "--eval_flags", "--max_len 200 --max_new_tokens 8"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    readme = (out / "README.md").read_text()
    assert "Per-task LoRA trained on 2 seen tasks: task1_copy, task2_upper." in readme
    for name, systems in (("sni-2", ["base", "fewshot", "base_chat", "fewshot_chat", "hypernet", "hypernet_shuffled",
                                     "mt_lora", "lora"]),
                          ("sni-2-adapter_only", ["base", "fewshot", "base_chat", "fewshot_chat", "hypernet",
                                                  "hypernet_shuffled", "mt_lora", "lora"])):
        res = json.loads((out / name / "results.json").read_text())
        assert res["complete"] and list(res["systems"]) == systems
        assert res["tasks"] == {"seen": ["task1_copy", "task2_upper", "task3_reverse"], "unseen": ["task9_first"]}
        assert res["systems"]["hypernet"]["settings"]["adapter_only"] == name.endswith("adapter_only")
        assert (out / name / "table.md").read_text().strip() in readme
    # the hypernetwork was trained over mt_lora's step-25 checkpoint
    state = json.loads((runs / "hypernet" / "step_000002" / "state.json").read_text())
    assert state["config"]["floor_ckpt"] == str((runs / "mt_lora" / "step_000025").resolve())
    assert state["config"]["task_lr_mult"] == 10
    # run again: every job resumes or is reused, nothing is retrained or regenerated
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    logs = {p.name: p.read_text() for p in (out / "logs").iterdir()}
    assert logs["train_mt_lora.log"].count("nothing to do") == 1
    assert logs["eval_adapters.log"].count("hypernet: reused") == 1


def test_results_errors_are_one_line(tmp_path):
    ckpt = make_tiny_ckpt(tmp_path / "tiny", tokenizer="bytes", vocab_size=259, n_layers=2)
    sni = write_sni(tmp_path / "sni")
    base = [sys.executable, "scripts/results.py", "--ckpt_dir", str(ckpt), "--data_dir", str(sni),
            "--out", str(tmp_path / "out"), "--runs", str(tmp_path / "runs"), "--lora_tasks", "0"]
    r = subprocess.run(base + ["--floor_step", "30"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr.strip() == "error: --floor_step 30: expected a multiple of 25 up to --mt_steps 125"
    # a job that fails stops the pipeline with that job's last log line; the other lane's job is not started
    r = subprocess.run(base + ["--train_flags", "--lr -1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    err = r.stderr.strip()
    assert r.returncode == 1 and err.count("\n") == 0, err
    assert err.startswith("error: train_mt_lora failed (exit 2): error: --lr -1.0: expected a number > 0"), err
    assert "train_hypernet: not started (another lane failed)" in err
