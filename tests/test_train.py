"""train.py on a tiny random model with a byte-level tokenizer and the built-in tasks."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import hypernet
import train
from conftest import ROOT, make_tiny_ckpt

TINY = ["--d_h", "32", "--hn_layers", "1", "--rank", "4", "--lora_a", "16", "--lora_b", "16",
        "--max_len", "160", "--eval_every", "3", "--val_per_task", "2", "--warmup_steps", "2", "--lr", "3e-3"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_ckpt(tmp_path_factory.mktemp("tiny"), tokenizer="bytes", vocab_size=272, n_layers=2)


def losses(run_dir):
    return [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]


def run_train(ckpt, out_dir, *extra, nproc=1):
    """train.py in a fresh process: plain python, or torchrun with gloo on CPU."""
    cmd = [sys.executable, "train.py"] if nproc == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "train.py"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd + ["--ckpt_dir", str(ckpt), "--out_dir", str(out_dir), *TINY, *extra],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.parametrize("mode,extra", [
    ("hypernet", ["--tasks_per_step", "4", "--examples_per_task", "2"]),   # ranks get whole tasks
    ("hypernet", ["--tasks_per_step", "3", "--examples_per_task", "3"]),   # a task split across ranks
    ("mt_lora", ["--tasks_per_step", "4", "--examples_per_task", "2", "--grad_accum", "2"]),
    ("lora", ["--tasks", "2", "--examples_per_task", "4"]),
], ids=["hypernet", "hypernet_split_task", "mt_lora_accum", "lora"])
def test_ddp_two_processes_equal_one(ckpt, tmp_path, mode, extra):
    args = ["--mode", mode, "--max_steps", "4", "--save_every", "100", *extra]
    run_train(ckpt, tmp_path / "one", *args)
    run_train(ckpt, tmp_path / "two", *args, nproc=2)
    runs = [tmp_path / "one", tmp_path / "two"]
    if mode == "lora":
        runs = [r / "lora" / name for r in runs for name in sorted(os.listdir(r / "lora"))]
        runs = [runs[0], runs[2], runs[1], runs[3]]  # (one, two) per task
    for one, two in zip(runs[::2], runs[1::2]):
        a, b = losses(one), losses(two)
        assert [r["step"] for r in a] == [r["step"] for r in b] == [0, 1, 2, 3]
        for ra, rb in zip(a, b):
            assert abs(ra["loss"] - rb["loss"]) < 1e-5, (ra, rb)
        assert abs(a[-1]["val_loss"] - b[-1]["val_loss"]) < 1e-5
        wa = load_file(one / "step_000004" / "trainable.safetensors")
        wb = load_file(two / "step_000004" / "trainable.safetensors")
        assert wa.keys() == wb.keys()
        assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5


def test_loss_falls_and_metrics_logged(ckpt, tmp_path):
    out = run_train(ckpt, tmp_path / "run", "--max_steps", "12", "--save_every", "6", "--keep_last", "1", "--lr", "3e-2")
    rows = losses(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(12))
    assert {"step", "loss", "lr", "grad_norm", "tokens_per_s", "adapter_cos", "task_share"} <= rows[0].keys()
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    # from near-uniform (ln 272 = 5.6) the byte-level model learns the tasks' text: 0.3 nats in 12 steps
    assert len(val) == 4 and val[-1] < val[0] - 0.3, val
    assert sum(r["loss"] for r in rows[-3:]) < sum(r["loss"] for r in rows[:3]) - 0.9
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "metrics.jsonl", "step_000012"]
    state = json.loads((tmp_path / "run" / "step_000012" / "state.json").read_text())
    assert state["step"] == 12 and state["config"]["mode"] == "hypernet" and state["config"]["hypernet_config"]["rank"] == 4
    assert "step    11 | loss" in out


def interrupted(monkeypatch, at_step):
    """Make train.py die inside step `at_step`, as a kill would, after earlier checkpoints were written."""
    real = train.get_lr

    def get_lr(step, args):
        if step == at_step:
            raise KeyboardInterrupt("killed")
        return real(step, args)
    monkeypatch.setattr(train, "get_lr", get_lr)


@pytest.mark.parametrize("mode", ["hypernet", "mt_lora"])
def test_resume_equals_uninterrupted(ckpt, tmp_path, monkeypatch, mode):
    args = ["--ckpt_dir", str(ckpt), "--mode", mode, "--max_steps", "8", "--save_every", "3", *TINY]
    train.main(args + ["--out_dir", str(tmp_path / "full")])
    with monkeypatch.context() as m:
        interrupted(m, at_step=7)
        with pytest.raises(KeyboardInterrupt):
            train.main(args + ["--out_dir", str(tmp_path / "cut")])
    assert sorted(p.name for p in (tmp_path / "cut").glob("step_*")) == ["step_000003", "step_000006"]
    train.main(args + ["--out_dir", str(tmp_path / "cut"), "--resume"])
    full, cut = (load_file(tmp_path / r / "step_000008" / "trainable.safetensors") for r in ("full", "cut"))
    assert full.keys() == cut.keys()
    assert all(torch.equal(full[k], cut[k]) for k in full)
    speedless = [[{k: v for k, v in r.items() if k != "tokens_per_s"} for r in losses(tmp_path / d)] for d in ("full", "cut")]
    assert speedless[0] == speedless[1] and len(speedless[0]) == 8


def test_interrupted_checkpoint_write_keeps_last_good(ckpt, tmp_path, monkeypatch):
    args = ["--ckpt_dir", str(ckpt), "--out_dir", str(tmp_path), "--mode", "mt_lora", "--max_steps", "6",
            "--save_every", "2", *TINY]
    real_save = torch.save

    def dying_save(obj, f, *a, **k):
        if "step_000004" in str(f):
            with open(f, "wb") as fh:
                fh.write(b"partial")  # a half-written file, then the process dies
            raise KeyboardInterrupt("killed while writing")
        return real_save(obj, f, *a, **k)
    with monkeypatch.context() as m:
        m.setattr(torch, "save", dying_save)
        with pytest.raises(KeyboardInterrupt):
            train.main(args)
    assert hypernet.latest_checkpoint(tmp_path).name == "step_000002"
    good = load_file(tmp_path / "step_000002" / "trainable.safetensors")
    train.main(args + ["--resume"])  # resumes from step 2, ignoring the half-written .tmp directory
    assert hypernet.latest_checkpoint(tmp_path).name == "step_000006"
    assert not list(tmp_path.glob(".tmp_*"))
    assert [r["step"] for r in losses(tmp_path)] == list(range(6))
    assert any(not torch.equal(good[k], v) for k, v in load_file(tmp_path / "step_000006" / "trainable.safetensors").items())


def test_non_finite_loss_skips_then_aborts(ckpt, tmp_path, monkeypatch, capsys):
    real = train.lm_loss_sum
    monkeypatch.setattr(train, "lm_loss_sum", lambda *a: real(*a) * float("nan"))
    with pytest.raises(RuntimeError, match="3 non-finite losses in a row at step 2"):
        train.main(["--ckpt_dir", str(ckpt), "--out_dir", str(tmp_path), "--mode", "mt_lora", "--max_steps", "6",
                    "--max_bad_steps", "3", *TINY])
    assert "step 0: non-finite loss nan, step skipped (1 in a row)" in capsys.readouterr().out
    assert not list(tmp_path.glob("step_*"))
    assert [r["skipped"] for r in losses(tmp_path)] == ["non-finite loss"] * 3


def test_bad_input_one_line_errors(ckpt, tmp_path):
    r = subprocess.run([sys.executable, "train.py", "--ckpt_dir", str(tmp_path / "missing")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0
    assert "missing: checkpoint directory not found" in r.stderr
    r = subprocess.run([sys.executable, "train.py", "--ckpt_dir", str(ckpt), "--tasks", "builtin_nope"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "--tasks: ['builtin_nope'] are not seen tasks" in r.stderr.strip().splitlines()[-1]


def test_length_groups_fewest_then_least_padding():
    """The dynamic programme against brute force over every way to cut the sorted rows."""
    import itertools
    import random
    rng = random.Random(0)
    for _ in range(30):
        lengths = sorted((rng.randint(1, 60) for _ in range(rng.randint(1, 9))), reverse=True)
        max_rows, max_tokens = rng.randint(1, 5), rng.choice([0, 50, 120])
        n, best = len(lengths), None
        for cuts in itertools.product([0, 1], repeat=n - 1):
            starts = [0] + [i + 1 for i, c in enumerate(cuts) if c]
            bounds = list(zip(starts, starts[1:] + [n]))
            if all(j - i <= max_rows and (j - i == 1 or not max_tokens or (j - i) * lengths[i] <= max_tokens)
                   for i, j in bounds):
                cost = (len(bounds), sum((j - i) * lengths[i] for i, j in bounds))
                best = min(best or cost, cost)
        got = train.length_groups(lengths, max_rows, max_tokens)
        assert got[0][0] == 0 and got[-1][1] == n and all(a[1] == b[0] for a, b in zip(got, got[1:]))
        assert (len(got), sum((j - i) * lengths[i] for i, j in got)) == best, (lengths, max_rows, max_tokens)


@pytest.mark.parametrize("mode", ["hypernet", "mt_lora"])
def test_packed_step_equals_unpacked(ckpt, mode):
    """One step's loss and gradients: tasks sharing length-sorted micro-batches (each row with its own
    task's adapter) == one task per micro-batch, within 1e-5."""
    import data
    import lora
    from model import Tokenizer, load_model
    model = load_model(ckpt, max_seq_len=160)
    tokenizer = Tokenizer(ckpt / "tokenizer.model")
    tasks = data.load_tasks(None, log=None).seen
    torch.manual_seed(0)
    if mode == "hypernet":
        hn = hypernet.HyperNetwork(hypernet.HyperNetConfig(rank=4, a=16, b=16, d_h=32, n_layers=1), model.args)
        hn.inject(model)
        codes = hn.fit_task_stats(model, tokenizer, [data.task_text(t) for t in tasks])
        trainee = hn
    else:
        lora.inject(model, "plain", rank=4, n_tasks=1)
        trainee, codes = train.LoRATrainee(model), None
    with torch.no_grad():  # a trained state: every task's adapter non-zero and different
        for p in trainee.parameters():
            p.add_(0.05 * torch.randn_like(p))
    batch = data.sample_batch(tasks, 0, seed=0, tasks_per_step=4, examples_per_task=3)
    result = {}
    for pack, extra in [(0, []), (1, []), (1, ["--micro_batch_size", "5", "--micro_batch_tokens", "0"])]:
        args = train.get_args(["--ckpt_dir", str(ckpt), *TINY, "--pack", str(pack), *extra])
        micros, _ = train.micro_batches(batch, tokenizer, tasks, args)
        assert sorted(t for rows, _, _ in micros for t in rows) == sorted(t for t, _ in batch)
        n_targets = sum(m[:, 1:].sum().item() for _, _, m in micros)
        trainee.zero_grad(set_to_none=True)
        loss = train.forward_backward(model, trainee, trainee, codes, micros, 1 / n_targets, "cpu", False)
        grads = [p.grad.clone() for p in trainee.parameters() if p.requires_grad]
        result[(pack, *extra)] = (micros, loss.item() / n_targets, grads)
    (micros0, loss0, grads0), *packed = result.values()
    assert all(len(set(rows)) == 1 for rows, _, _ in micros0) and len(micros0) == 4
    for micros, loss, grads in packed:
        assert len(micros) < len(micros0) and any(len(set(rows)) > 1 for rows, _, _ in micros)
        assert abs(loss - loss0) < 1e-5, (loss, loss0)
        for g, g0 in zip(grads, grads0):
            assert g0.abs().max() > 0
            torch.testing.assert_close(g, g0, rtol=1e-5, atol=1e-5 * g0.abs().max().item())
