"""train.py on a tiny random model with a byte-level tokenizer and the built-in tasks."""

import io
import json
import re
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import torch
from safetensors.torch import load_file

import data
import hypernet
import train
from conftest import ROOT, make_tiny_ckpt

UMASK = os.umask(0o022)
os.umask(UMASK)
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
    ("hypernet", ["--tasks_per_step", "3", "--examples_per_task", "3", "--loss_weight", "instance"]),
], ids=["hypernet", "hypernet_split_task", "mt_lora_accum", "lora", "hypernet_instance"])
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
        assert abs(a[-1]["val_loss_inst"] - b[-1]["val_loss_inst"]) < 1e-5
        wa = load_file(one / "step_000004" / "trainable.safetensors")
        wb = load_file(two / "step_000004" / "trainable.safetensors")
        assert wa.keys() == wb.keys()
        assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5


def test_loss_falls_and_metrics_logged(ckpt, tmp_path):
    out = run_train(ckpt, tmp_path / "run", "--max_steps", "12", "--save_every", "6", "--keep_last", "1", "--lr", "3e-2",
                    "--samples", "2")
    rows = losses(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(12))
    assert {"step", "loss", "lr", "grad_norm", "tokens_per_s", "adapter_cos", "task_share", "time", "elapsed"} <= rows[0].keys()
    # wall clock (UTC, ISO) and seconds since the run started, increasing
    t0 = datetime.fromisoformat(rows[0]["time"])
    assert t0.tzinfo is not None and abs((datetime.now(timezone.utc) - t0).total_seconds()) < 600
    assert all(0 < a < b for a, b in zip([r["elapsed"] for r in rows], [r["elapsed"] for r in rows[1:]]))
    # the samples printed at the end are in the run dir too, and plain lines (not a TTY): no in-place counter
    samples = (tmp_path / "run" / "samples.txt").read_text()
    assert samples.startswith("unseen tasks (no training on them):\n") and samples.count("reference") == 2
    assert samples in out and "\r" not in out
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    # from near-uniform (ln 272 = 5.6) the byte-level model learns the tasks' text: 0.3 nats in 12 steps
    assert len(val) == 4 and val[-1] < val[0] - 0.3, val
    assert sum(r["loss"] for r in rows[-3:]) < sum(r["loss"] for r in rows[:3]) - 0.9
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "metrics.jsonl", "samples.txt", "step_000012"]
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run" / "step_000012").iterdir()}
    assert modes == dict.fromkeys(["trainable.safetensors", "optimizer.pt", "state.json"], 0o666 & ~UMASK), modes
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


@pytest.mark.parametrize("mode,extra", [("hypernet", []), ("mt_lora", []),
                                        ("hypernet", ["--code_dropout", "0.2", "--code_noise", "0.5"])],
                         ids=["hypernet", "mt_lora", "hypernet_code_noise"])
def test_resume_equals_uninterrupted(ckpt, tmp_path, monkeypatch, mode, extra):
    args = ["--ckpt_dir", str(ckpt), "--mode", mode, "--max_steps", "8", "--save_every", "3", *TINY, *extra]
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
    clockless = [[{k: v for k, v in r.items() if k not in ("tokens_per_s", "time", "elapsed")} for r in losses(tmp_path / d)]
                 for d in ("full", "cut")]
    assert clockless[0] == clockless[1] and len(clockless[0]) == 8
    # the resumed run's clock continues from the last kept record: elapsed never goes back
    elapsed = [r["elapsed"] for r in losses(tmp_path / "cut")]
    assert all(b > a for a, b in zip(elapsed, elapsed[1:])), elapsed


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
    with pytest.raises(SystemExit) as e:
        train.main(["--ckpt_dir", str(ckpt), "--out_dir", str(tmp_path), "--mode", "mt_lora", "--max_steps", "6",
                    "--max_bad_steps", "3", *TINY])
    out, err = capsys.readouterr()
    assert e.value.code == 1 and err == "error: 3 non-finite losses in a row at step 2; aborting (lower --lr?)\n"
    assert "step 0: non-finite loss nan, step skipped (1 in a row)" in out
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
    # a --max_len the bare prompt template does not fit in: one line before anything is written
    r = subprocess.run([sys.executable, "train.py", "--ckpt_dir", str(ckpt), "--out_dir", str(tmp_path / "short"),
                        "--max_len", "24"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert re.fullmatch(r"error: builtin_\w+: its bare prompt template alone takes \d+ tokens; max_len=24 leaves no "
                        r"room for a target\n", r.stderr)
    assert not (tmp_path / "short").exists()


def test_floor_run_starts_as_the_mt_lora_and_logs_the_conditioning_control(ckpt, tmp_path, capsys):
    """--floor: a hypernetwork over a trained mt_lora starts exactly at that LoRA's validation loss;
    every evaluation also logs the shuffled-instruction control and the two paths' gradient norms."""
    common = ["--ckpt_dir", str(ckpt), "--tasks_per_step", "4", "--examples_per_task", "2", "--save_every", "100", *TINY]
    train.main(common + ["--mode", "mt_lora", "--max_steps", "3", "--out_dir", str(tmp_path / "mt")])
    mt_val = losses(tmp_path / "mt")[-1]["val_loss"]
    # lr ~ 0: the residual stays ~0, so the first validation is the floor's, i.e. the mt_lora's
    train.main(common + ["--max_steps", "2", "--out_dir", str(tmp_path / "hn"), "--floor", str(tmp_path / "mt"),
                         "--lr", "1e-12", "--def_dropout", "0.5"])
    rows = losses(tmp_path / "hn")
    assert abs(rows[-1]["val_loss"] - mt_val) < 1e-5, (rows[-1]["val_loss"], mt_val)
    assert {"val_loss_shuffled", "grad_task", "grad_shared"} <= rows[-1].keys()
    # the head starts at zero weights, so at step 0 only the task-independent path gets a gradient
    assert rows[0]["grad_task"] == 0 and rows[0]["grad_shared"] > 0 and rows[1]["grad_task"] > 0
    state = json.loads((tmp_path / "hn" / "step_000002" / "state.json").read_text())
    assert state["config"]["floor_ckpt"] == str((tmp_path / "mt" / "step_000003").resolve())
    assert state["config"]["hypernet_config"]["floor_rank"] == 4
    # --floor_trainable: the floor goes on training (saved under the same names); frozen, it stays the mt_lora's
    train.main(common + ["--max_steps", "2", "--out_dir", str(tmp_path / "hn_t"), "--floor", str(tmp_path / "mt"),
                         "--floor_trainable"])
    mt_A = load_file(tmp_path / "mt" / "step_000003" / "trainable.safetensors")["layers.0.attention.wq.lora_A"][0]
    frozen, trained = (load_file(tmp_path / d / "step_000002" / "trainable.safetensors")["floor.A_0"] for d in ("hn", "hn_t"))
    assert torch.equal(frozen, mt_A) and not torch.equal(trained, mt_A)
    # a floor must be an mt_lora run of the same base model
    capsys.readouterr()
    code, _, err = main_exit(common + ["--max_steps", "1", "--out_dir", str(tmp_path / "bad"), "--floor", str(tmp_path / "hn")],
                             capsys)
    assert code == 1 and err.count("\n") == 1
    assert re.search(r"^error: --floor .*step_000002: a --mode hypernet checkpoint; expected a --mode mt_lora one$", err.strip())
    assert not (tmp_path / "bad").exists()


def test_init_from_starts_every_lora_at_the_mt_lora(ckpt, tmp_path, capsys):
    """--init_from: each task's LoRA (--mode lora) or the shared one (--mode mt_lora) starts as the
    mt_lora's weights (not B = 0), so with lr ~ 0 every saved LoRA is the mt_lora; the run must match
    its rank and alpha."""
    common = ["--ckpt_dir", str(ckpt), "--examples_per_task", "2", "--save_every", "100", *TINY, "--eval_every", "0"]
    train.main(common + ["--mode", "mt_lora", "--tasks_per_step", "4", "--max_steps", "3", "--out_dir", str(tmp_path / "mt")])
    mt = load_file(tmp_path / "mt" / "step_000003" / "trainable.safetensors")
    for mode, init in (("lora", True), ("lora", False), ("mt_lora", True)):
        out = tmp_path / f"{mode}-{'warm' if init else 'cold'}"
        train.main(common + ["--mode", mode, "--tasks", "2", "--max_steps", "1", "--lr", "1e-12", "--out_dir", str(out)]
                   + (["--init_from", str(tmp_path / "mt")] if init else []))
        names = sorted(os.listdir(out / "lora")) if mode == "lora" else [None]
        assert len(names) == (2 if mode == "lora" else 1)
        for name in names:
            step = (out / "lora" / name if name else out) / "step_000001"
            got = load_file(step / "trainable.safetensors")
            assert got.keys() == mt.keys()
            for k in mt:
                if init or k.endswith("lora_B"):
                    ref = mt[k] if init else torch.zeros_like(mt[k])  # a fresh LoRA: B = 0
                    torch.testing.assert_close(got[k], ref, rtol=0, atol=1e-9, msg=k)
            if init:
                state = json.loads((step / "state.json").read_text())
                assert state["config"]["init_ckpt"] == str((tmp_path / "mt" / "step_000003").resolve())
    # another adapter shape, or another mode: one line, nothing written
    capsys.readouterr()
    code, _, err = main_exit(common + ["--mode", "lora", "--tasks", "1", "--max_steps", "1", "--rank", "2",
                                       "--out_dir", str(tmp_path / "bad"), "--init_from", str(tmp_path / "mt")], capsys)
    assert code == 1 and err.count("\n") == 1
    assert re.search(r"^error: --init_from .*step_000003: rank 4, alpha 16.0; this run --rank 2 --alpha 16.0$", err.strip())
    code, _, err = main_exit(common + ["--out_dir", str(tmp_path / "bad"), "--init_from", str(tmp_path / "mt")], capsys)
    assert code == 1 and err.count("\n") == 1
    assert re.search(r"^error: --init_from .*step_000003: a --mode mt_lora checkpoint; --mode hypernet starts from a "
                     r"hypernet one$", err.strip())
    assert not (tmp_path / "bad").exists()


def test_init_from_a_hypernet_run_starts_where_it_ended(ckpt, tmp_path, capsys):
    """--mode hypernet --init_from <hypernet run>: the run starts as that hypernetwork, all of it (with
    lr ~ 0 the saved state is the source's), and only from one of the same configuration."""
    common = ["--ckpt_dir", str(ckpt), "--tasks_per_step", "4", "--examples_per_task", "2", "--save_every", "100",
              *TINY, "--eval_every", "0"]
    train.main(common + ["--max_steps", "2", "--out_dir", str(tmp_path / "a")])
    src = load_file(tmp_path / "a" / "step_000002" / "trainable.safetensors")
    train.main(common + ["--max_steps", "1", "--lr", "1e-12", "--out_dir", str(tmp_path / "b"),
                         "--init_from", str(tmp_path / "a")])
    got = load_file(tmp_path / "b" / "step_000001" / "trainable.safetensors")
    assert got.keys() == src.keys()
    for k in src:
        torch.testing.assert_close(got[k], src[k], rtol=0, atol=1e-8, msg=k)
    capsys.readouterr()
    code, _, err = main_exit(common + ["--max_steps", "1", "--d_h", "64", "--out_dir", str(tmp_path / "bad"),
                                       "--init_from", str(tmp_path / "a")], capsys)
    assert code == 1 and err.count("\n") == 1
    assert re.search(r"^error: --init_from .*step_000002: hypernetwork d_h 32; this run d_h 64$", err.strip()), err
    assert not (tmp_path / "bad").exists()


def test_linear_hypernetwork_trains(ckpt, tmp_path):
    """--iterations 0 --direct_rank k (no decoder): the run trains, its loss falls, and only S, C and U are saved."""
    run_train(ckpt, tmp_path / "run", "--max_steps", "8", "--save_every", "8", "--lr", "3e-2", "--iterations", "0",
              "--direct_rank", "4")
    rows = losses(tmp_path / "run")
    assert sum(r["loss"] for r in rows[-3:]) < sum(r["loss"] for r in rows[:3]) - 0.5
    saved = load_file(tmp_path / "run" / "step_000008" / "trainable.safetensors")
    assert set(saved) == {"direct_proj", "direct", "shared", "task_mean", "task_scale"}, set(saved)


def test_task_lr_mult_scales_only_the_task_path(ckpt, tmp_path):
    """--task_lr_mult m: one step moves the task path (everything but S and the head bias) as lr * m
    would, and S and the head bias as lr would: run A (lr, m=10) equals run C (10 lr) on the task path
    and run B (lr) on the shared part."""
    common = ["--ckpt_dir", str(ckpt), "--tasks_per_step", "4", "--examples_per_task", "2", "--max_steps", "1",
              *TINY, "--eval_every", "0"]
    runs = {"A": ["--lr", "1e-3", "--task_lr_mult", "10"], "B": ["--lr", "1e-3"], "C": ["--lr", "1e-2"]}
    w = {}
    for k, extra in runs.items():
        train.main(common + extra + ["--out_dir", str(tmp_path / k)])
        w[k] = load_file(tmp_path / k / "step_000001" / "trainable.safetensors")
    shared = {"shared", "head.bias"}
    # step 0: the head's weights are zero, so of the task path only they get a gradient
    assert not torch.equal(w["A"]["head.weight"], w["B"]["head.weight"])
    for name in w["A"]:
        ref = w["B"] if name in shared else w["C"]
        torch.testing.assert_close(w["A"][name], ref[name], rtol=1e-6, atol=1e-9, msg=name)
    assert not torch.equal(w["A"]["shared"], w["C"]["shared"])


def test_code_noise_perturbs_training_steps_only(ckpt, tmp_path, monkeypatch, capsys):
    """--code_dropout / --code_noise: one fresh draw per training step (seeded by run seed and step);
    validation and the logged control see the clean codes; the trained weights change."""
    common = ["--ckpt_dir", str(ckpt), "--tasks_per_step", "4", "--examples_per_task", "2", "--max_steps", "3",
              "--save_every", "100", *TINY]
    seeds, real = [], hypernet.HyperNetwork.perturb
    monkeypatch.setattr(hypernet.HyperNetwork, "perturb", lambda self, c, *a, seed: seeds.append(seed) or real(self, c, *a, seed=seed))
    train.main(common + ["--out_dir", str(tmp_path / "noisy"), "--code_noise", "1.0", "--seed", "2"])
    assert seeds == [2 * 1000003 + step for step in range(3)]
    monkeypatch.undo()
    train.main(common + ["--out_dir", str(tmp_path / "clean"), "--seed", "2"])
    clean, noisy = (load_file(tmp_path / d / "step_000003" / "trainable.safetensors") for d in ("clean", "noisy"))
    assert not torch.equal(clean["task_proj.weight"], noisy["task_proj.weight"])
    code, _, err = main_exit(common + ["--out_dir", str(tmp_path / "mt"), "--mode", "mt_lora", "--code_noise", "0.1"], capsys)
    assert code == 2 and "--mode mt_lora has none" in err and err.count("\n") == 1 and not (tmp_path / "mt").exists()


def test_definition_dropout_is_a_pure_function_of_seed_step_and_instance():
    args = train.get_args(["--ckpt_dir", "x", "--def_dropout", "0.5"])
    insts = data.load_tasks(None, log=None).seen[0].train[:200]
    drops = [train.without_definition(args, 3, i) for i in insts]
    assert drops == [train.without_definition(args, 3, i) for i in insts]
    assert 0.35 < sum(drops) / len(drops) < 0.65 and drops != [train.without_definition(args, 4, i) for i in insts]
    args.def_dropout = 1.0
    assert all(train.without_definition(args, 3, i) for i in insts)
    args.def_dropout = 0.0
    assert not any(train.without_definition(args, 3, i) for i in insts)


# ----------------------------------------------------------------------------- runs that cannot be lost


def main_exit(argv, capsys):
    """train.main(argv) that must exit: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        train.main(argv)
    out, err = capsys.readouterr()
    return e.value.code, out, err


def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_every_flag_is_classified_for_resume():
    flags = set(vars(train.get_args(["--ckpt_dir", "x"])))
    assert not set(train.RESULT_FLAGS) & set(train.RESUME_FREE_FLAGS)
    assert set(train.RESULT_FLAGS) | set(train.RESUME_FREE_FLAGS) == flags


@pytest.mark.parametrize("flag,value,expected", [
    ("--lr", "-0.001", "--lr -0.001: expected a number > 0"),
    ("--lr", "nan", "--lr nan: expected a number > 0"),
    ("--max_steps", "0", "--max_steps 0: expected an integer >= 1"),
    ("--rank", "0", "--rank 0: expected an integer >= 1"),
    ("--min_lr_ratio", "1.5", "--min_lr_ratio 1.5: expected a number in [0, 1]"),
    ("--d_h", "36", "--d_h 36: expected a multiple of 8"),
    ("--targets", "wq,wz", "--targets wq,wz: unknown ['wz']"),
    ("--task_lr_mult", "0", "--task_lr_mult 0.0: expected a number > 0"),
    ("--floor_trainable", "--floor_trainable", "--floor_trainable needs --floor <mt_lora run>"),
    ("--code_dropout", "1", "--code_dropout 1.0: expected a number in [0, 1)"),
    ("--code_noise", "-1", "--code_noise -1.0: expected a number >= 0"),
    ("--task_code", "id --mode mt_lora", "--task_code id is the hypernetwork's: --mode mt_lora has none"),
    ("--direct_rank", "4 --mode mt_lora", "--direct_rank is the hypernetwork's: --mode mt_lora has none"),
    ("--direct_rank", "-1", "--direct_rank -1: expected an integer >= 0"),
    ("--iterations", "0", "--iterations 0 (no decoder) needs --mode hypernet with --direct_rank k > 0"),
    ("--iterations", "-1", "--iterations -1: expected an integer >= 0"),
    ("--table_init", "same --task_code id", "--table_init is the bank's (--task_code table), not --task_code id's"),
])
def test_bad_flag_values_fail_before_anything_is_written(ckpt, tmp_path, capsys, flag, value, expected):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")  # an earlier run's config must survive
    code, out, err = main_exit(["--ckpt_dir", str(ckpt), "--out_dir", str(run), "--resume", *TINY, flag, *value.split()], capsys)
    assert code == 2 and err.startswith("error: ") and expected in err and err.count("\n") == 1, err
    assert snapshot(run) == {"config.json": b"{}"}


def test_run_dir_is_refused_resumed_checked_or_moved_aside(ckpt, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    base = ["--ckpt_dir", str(ckpt), "--out_dir", str(run), "--mode", "mt_lora", *TINY, "--save_every", "2"]

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    tty = Terminal()
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", tty)
        train.main(base + ["--max_steps", "2"])
    # on a terminal the step counter is rewritten in place between the log lines
    assert "\r\x1b[Kstep 2/2: micro-batch 1/" in tty.getvalue() and "step     1 | loss" in tty.getvalue()
    before = snapshot(run)

    # a new run into it, without --resume: refused in one line, nothing touched
    code, _, err = main_exit(base + ["--max_steps", "2", "--lr", "1e-2"], capsys)
    assert code == 1 and err.count("\n") == 1 and "holds a run (config.json, metrics.jsonl, step_000002)" in err
    assert "--resume" in err and "--overwrite" in err and snapshot(run) == before

    # --resume with flags that change the result: every one named, nothing touched
    code, _, err = main_exit(base + ["--max_steps", "4", "--resume", "--lr", "1e-2", "--rank", "8"], capsys)
    assert code == 1 and err.count("\n") == 1 and snapshot(run) == before
    assert "--lr 0.003 (now 0.01)" in err and "--rank 4 (now 8)" in err
    # already finished: said, not silently done; past the end: a mistake
    code, out, _ = main_exit(base + ["--max_steps", "2", "--resume"], capsys)
    assert code == 0 and "finished at step 2 = --max_steps; nothing to do" in out
    code, _, err = main_exit(base + ["--max_steps", "1", "--resume"], capsys)
    assert code == 1 and "is at step 2, past --max_steps 1" in err and snapshot(run) == before

    # extending: free flags may differ, and the new lr schedule is stated
    train.main(base + ["--max_steps", "3", "--resume", "--log_every", "5", "--eval_every", "0"])
    out = capsys.readouterr().out
    lr = train.get_lr(2, train.get_args(base + ["--max_steps", "3"]))
    assert f"--max_steps 2 -> 3: the cosine decay now ends at step 3; lr at step 2 is {lr:.2e}" in out
    assert [r["step"] for r in losses(run)] == [0, 1, 2]
    extended = snapshot(run)

    # --overwrite moves the old run aside, whole
    train.main(base + ["--max_steps", "1", "--overwrite"])
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert len(aside) == 1 and snapshot(aside[0]) == extended
    assert [r["step"] for r in losses(run)] == [0] and hypernet.latest_checkpoint(run).name == "step_000001"


def write_sni(root, broken=False):
    """An SNI folder with two small tasks; `broken` adds a truncated task file to the train split."""
    (root / "tasks").mkdir(parents=True)
    (root / "splits" / "default").mkdir(parents=True)
    names = ["copy", "upper"] + ["broken"] * broken
    for name, f in [("copy", str), ("upper", str.upper)]:
        inst = [{"id": f"{name}-{i}", "input": w, "output": [f(w)]} for i, w in enumerate("alpha beta gamma delta eps zeta".split())]
        (root / "tasks" / f"{name}.json").write_text(json.dumps({"Definition": [f"{name} the word"], "Positive Examples": [],
                                                                  "Instances": inst}))
    if broken:
        (root / "tasks" / "broken.json").write_text('{"Definition": ["x"], "Instances": [{"id": "1", "input": "')
    (root / "splits" / "default" / "train_tasks.txt").write_text("\n".join(names))
    (root / "splits" / "default" / "test_tasks.txt").write_text("")
    return root


def test_skip_bad_tasks(ckpt, tmp_path, capsys):
    sni = write_sni(tmp_path / "sni", broken=True)
    args = ["--ckpt_dir", str(ckpt), "--data_dir", str(sni), "--out_dir", str(tmp_path / "run"), *TINY,
            "--n_heldout", "2", "--tasks_per_step", "2", "--examples_per_task", "2", "--max_steps", "1"]
    code, _, err = main_exit(args, capsys)
    assert code == 1 and err.count("\n") == 1 and "broken.json: invalid JSON (Unterminated string starting at line 1" in err
    assert not (tmp_path / "run").exists()
    train.main(args + ["--skip_bad_tasks"])
    out = capsys.readouterr().out
    assert "warning: " in out and "broken.json" in out and "dropped 1 tasks (1 corrupt" in out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["tasks"] == ["copy", "upper"]


def test_torchrun_error_once_on_rank0_and_nonzero_exit(ckpt, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py",
           "--ckpt_dir", str(ckpt), "--out_dir", str(tmp_path / "run"), "--lr", "-1"]
    r = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert (r.stdout + r.stderr).count("error: --lr -1.0: expected a number > 0") == 1, r.stderr[-2000:]
    assert not (tmp_path / "run").exists()


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


@pytest.mark.parametrize("mode", ["hypernet", "mt_lora"])
def test_instance_loss_weight(ckpt, mode):
    """--loss_weight instance: one packed step's loss and gradients equal those of the mean over instances
    of each instance's mean target loss, computed one unpadded instance at a time from full logits; the
    validation pair (token mean, instance mean) equals the same reference on held-out instances."""
    import torch.nn.functional as F
    import lora
    from model import Tokenizer, load_model
    model = load_model(ckpt, max_seq_len=160)
    tokenizer = Tokenizer(ckpt / "tokenizer.model")
    tasks = data.load_tasks(None, log=None).seen
    torch.manual_seed(0)
    if mode == "hypernet":
        trainee = hypernet.HyperNetwork(hypernet.HyperNetConfig(rank=4, a=16, b=16, d_h=32, n_layers=1), model.args)
        trainee.inject(model)
        codes = trainee.fit_task_stats(model, tokenizer, [data.task_text(t) for t in tasks])
    else:
        lora.inject(model, "plain", rank=4, n_tasks=1)
        trainee, codes = train.LoRATrainee(model), None
    with torch.no_grad():
        for p in trainee.parameters():
            p.add_(0.05 * torch.randn_like(p))
    args = train.get_args(["--ckpt_dir", str(ckpt), *TINY, "--micro_batch_size", "5", "--loss_weight", "instance"])

    def reference(items):
        """[(token-summed loss, targets, instance-mean loss)] of each item, alone and unpadded."""
        out = []
        for t, inst in items:
            if codes is not None:
                lora.set_weights(model, trainee.adapters(trainee(codes[t:t + 1])))
            e = data.encode_example(tokenizer, tasks[t], inst, args.n_shot, args.max_len)
            tokens, mask = torch.tensor([e.tokens]), torch.tensor([e.mask])
            logp = F.log_softmax(model(tokens[:, :-1]).float(), -1)[0]  # (T-1, vocab): every position
            nll = -logp.gather(-1, tokens[0, 1:, None])[:, 0][mask[0, 1:]]
            out.append((nll.sum(), len(nll), nll.mean()))
        lora.clear_weights(model) if codes is not None else None
        return out

    batch = data.sample_batch(tasks, 0, seed=0, tasks_per_step=4, examples_per_task=3)
    micros, _ = train.micro_batches(batch, tokenizer, tasks, args)
    assert max(len(rows) for rows, _, _ in micros) > 1  # rows padded to a common length
    trainee.zero_grad(set_to_none=True)
    loss = train.forward_backward(model, trainee, trainee, codes, micros, 1 / len(batch), "cpu", False,
                                  per_instance=True).item() / len(batch)
    grads = [p.grad.clone() for p in trainee.parameters() if p.requires_grad]
    trainee.zero_grad(set_to_none=True)
    ref = reference(batch)
    want = torch.stack([m for _, _, m in ref]).mean()
    want.backward()
    token_mean = sum(s for s, _, _ in ref).item() / sum(n for _, n, _ in ref)
    assert len({n for _, n, _ in ref}) > 1 and abs(token_mean - want.item()) > 1e-3  # the two weightings differ here
    assert abs(loss - want.item()) < 1e-5, (loss, want.item())
    for p, g in zip([p for p in trainee.parameters() if p.requires_grad], grads):
        assert g.abs().max() > 0
        torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-5 * g.abs().max().item())

    items = data.heldout_items(tasks, 2)
    env = (0, 1, False, "cpu", True)
    with torch.no_grad():
        val, val_inst = train.validation_loss(model, tokenizer, tasks, trainee, codes, items, args, env)
        ref = reference(items)
    assert abs(val - sum(s for s, _, _ in ref).item() / sum(n for _, n, _ in ref)) < 1e-5
    assert abs(val_inst - torch.stack([m for _, _, m in ref]).mean().item()) < 1e-5


def test_task_code_table_trains_one_adapter_per_task(ckpt, tmp_path, capsys):
    """--task_code table: a bank of per-task lightweight adapters over the floor. One step moves
    exactly the rows of the step's tasks (Adam's first step is zero where the gradient is); with
    lr ~ 0 the run starts at the floor's validation loss (B = 0). --task_code id saves one code per
    task; the text-only flags are refused in one line."""
    common = ["--ckpt_dir", str(ckpt), "--examples_per_task", "2", "--save_every", "100", *TINY]
    train.main(common + ["--mode", "mt_lora", "--tasks_per_step", "4", "--max_steps", "3", "--out_dir", str(tmp_path / "mt")])
    mt_val = losses(tmp_path / "mt")[-1]["val_loss"]
    table = {}
    for lr in ("1e-3", "1e-12"):
        out = tmp_path / f"table-{lr}"
        train.main(common + ["--task_code", "table", "--tasks_per_step", "2", "--max_steps", "1", "--lr", lr,
                             "--eval_every", "1", "--floor", str(tmp_path / "mt"), "--out_dir", str(out)])
        table[lr] = load_file(out / "step_000001" / "trainable.safetensors")["code_table"]
        config = json.loads((out / "config.json").read_text())
        assert config["hypernet_config"]["code_tasks"] == config["tasks"] and len(config["tasks"]) == 16
    moved = [i for i in range(16) if not torch.equal(table["1e-3"][i], table["1e-12"][i])]
    assert len(moved) == 2, moved
    assert abs(losses(tmp_path / "table-1e-12")[-1]["val_loss"] - mt_val) < 1e-5
    train.main(common + ["--task_code", "id", "--tasks_per_step", "4", "--max_steps", "1", "--out_dir", str(tmp_path / "id")])
    assert load_file(tmp_path / "id" / "step_000001" / "trainable.safetensors")["code_table"].shape == (16, 64)
    capsys.readouterr()
    code, _, err = main_exit(common + ["--task_code", "id", "--code_noise", "0.1", "--out_dir", str(tmp_path / "bad")], capsys)
    assert code == 2 and err.count("\n") == 1 and "--task_code id reads none" in err
    assert not (tmp_path / "bad").exists()
