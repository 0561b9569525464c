"""scripts/distil.py: a text hypernetwork regressed onto a bank of per-task adapters (--task_code table)."""
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, make_tiny_ckpt
import data
import eval as ev
from hypernet import load_trained
import train
from test_eval import TINY_TRAIN
from test_train import TINY

sys.path.insert(0, str(ROOT / "scripts"))
import distil  # noqa: E402


def test_dw_inner_is_the_frobenius_product_of_the_updates():
    g = torch.Generator().manual_seed(0)
    X = [(torch.randn(3, 4, a, generator=g), torch.randn(3, b, 4, generator=g)) for a, b in ((5, 7), (6, 2))]
    Y = [(torch.randn(3, 4, a, generator=g), torch.randn(3, b, 4, generator=g)) for a, b in ((5, 7), (6, 2))]
    want = sum(((Bx @ Ax) * (By @ Ay)).sum((1, 2)) for (Ax, Bx), (Ay, By) in zip(X, Y))  # full dW, per task
    torch.testing.assert_close(distil.dw_inner(X, Y), want)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    root = tmp_path_factory.mktemp("distil")
    ckpt = make_tiny_ckpt(root / "tiny", tokenizer="bytes", vocab_size=259, n_layers=2)
    train.main(["--ckpt_dir", str(ckpt), "--out_dir", str(root / "bank"), "--task_code", "table", *TINY, *TINY_TRAIN,
                "--lr", "3e-2", "--tasks_per_step", "8", "--max_steps", "3", "--table_init", "same"])  # B far from 0
    return root


def test_distilled_hypernetwork_fits_the_bank_and_evaluates(bank, capsys):
    """The fit falls well below where it starts (~1: every task given the mean adapter), S is the bank's S plus its mean row,
    and eval.py decodes the result as any hypernet run, seen tasks the bank's."""
    distil.main(["--bank", str(bank / "bank"), "--out_dir", str(bank / "dist"), "--steps", "300", "--lr", "1e-2"])
    log = [json.loads(line) for line in (bank / "dist" / "distil.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 0 and log[0]["loss"] > 0.9 and log[-1]["step"] == 300, log  # the mean adapter: ~1
    assert log[-1]["loss"] < 0.5 * log[0]["loss"], log
    state = load_file(bank / "dist" / "step_000000" / "trainable.safetensors")
    saved = load_file(bank / "bank" / "step_000003" / "trainable.safetensors")
    torch.testing.assert_close(state["shared"], saved["shared"] + saved["code_table"].mean(0))
    res = ev.main(["--ckpt", str(bank / "dist"), "--systems", "hypernet,hypernet_shuffled", "--max_per_task", "1",
                   "--max_len", "160", "--max_new_tokens", "4"])
    bank_tasks = json.loads((bank / "bank" / "config.json").read_text())["tasks"]
    out = bank / "dist" / "eval" / "builtin-0"
    seen = {json.loads(r)["task"] for r in (out / "predictions-hypernet.jsonl").read_text().splitlines()
            if json.loads(r)["split"] == "seen"}
    assert seen == set(bank_tasks) and set(res["systems"]) == {"hypernet", "hypernet_shuffled"}
    capsys.readouterr()


def test_linear_map_gives_every_training_task_its_own_row(bank):
    """--linear: the direct path, fitted by least squares, writes each training task's bank row (plus S)
    from its code: the hypernetwork's W equals the bank's on every training task."""
    distil.main(["--bank", str(bank / "bank"), "--out_dir", str(bank / "lin"), "--linear"])
    log = [json.loads(line) for line in (bank / "lin" / "distil.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0] and log[0]["loss"] < 0.02, log  # float32 rounding of a near-singular map
    cfg = json.loads((bank / "lin" / "config.json").read_text())
    args = ev.load_model(cfg["ckpt_dir"], device="cpu").args
    hn, src = (load_trained(bank / d, args) for d in ("lin", "bank"))
    assert hn.cfg.direct_rank == len(src.cfg.code_tasks) and hn.cfg.task_code == "text"
    tasks = {t.name: t for t in data.load_tasks(None, log=None).seen}
    model = ev.load_model(cfg["ckpt_dir"], device="cpu")
    tok = ev.Tokenizer(Path(cfg["ckpt_dir"]) / "tokenizer.model")
    codes = hn.encode_tasks(model, tok, [data.task_text(tasks[n]) for n in src.cfg.code_tasks])
    with torch.no_grad():
        torch.testing.assert_close(hn(codes), src(torch.arange(len(codes))), rtol=1e-4, atol=1e-4)


def test_errors_are_one_line(bank, tmp_path):
    train.main(["--ckpt_dir", str(bank / "tiny"), "--out_dir", str(tmp_path / "hn"), *TINY, *TINY_TRAIN])
    with pytest.raises(SystemExit, match=r"^error: --bank .*step_000002: not a --task_code table run$"):
        distil.main(["--bank", str(tmp_path / "hn"), "--out_dir", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match=r"^error: --bank .*nowhere: no such run or checkpoint directory$"):
        distil.main(["--bank", str(tmp_path / "nowhere"), "--out_dir", str(tmp_path / "x")])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("saved work")
    with pytest.raises(SystemExit, match=r"^error: .*full: exists and is not empty$"):
        distil.main(["--bank", str(bank / "bank"), "--out_dir", str(tmp_path / "full")])
    assert (tmp_path / "full" / "keep.txt").read_text() == "saved work"
