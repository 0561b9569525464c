"""scripts/task_codes.py on a tiny model: a definition given back word for word finds its own task."""
import json
import subprocess
import sys

from conftest import ROOT, make_tiny_ckpt
from test_results import write_sni


def test_exact_rewording_is_found_first_and_errors_are_one_line(tmp_path):
    ckpt = make_tiny_ckpt(tmp_path / "tiny", tokenizer="bytes", vocab_size=259, n_layers=2)
    sni = write_sni(tmp_path / "sni")  # seen: task1_copy, task2_upper, task3_reverse
    words = {"task1_copy": "copy the word", "task3_reverse": "reverse the word"}  # their definitions, verbatim
    (tmp_path / "rw.json").write_text(json.dumps(words))
    cmd = [sys.executable, "scripts/task_codes.py", "--ckpt_dir", str(ckpt), "--data_dir", str(sni)]
    r = subprocess.run(cmd + ["--rewordings", str(tmp_path / "rw.json")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in r.stdout.splitlines() if line.startswith("| task")}
    assert rows["task1_copy"][1:4] == ["1", "1.000", "task1_copy"]
    assert rows["task3_reverse"][1:4] == ["1", "1.000", "task3_reverse"]
    assert "found first: 2 of 2" in r.stdout
    (tmp_path / "bad.json").write_text(json.dumps({"task9_first": "x"}))  # an unseen task
    r = subprocess.run(cmd + ["--rewordings", str(tmp_path / "bad.json")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == f"error: {tmp_path / 'bad.json'}: not seen tasks of {sni}: task9_first"
