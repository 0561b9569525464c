"""scripts/sweep.py: its arithmetic and summary on hand-made runs, and its one-line errors (the GPU
sweep itself is too long for a test; it ran end to end on a tiny model on CPU before it ran on a GPU)."""
import json
import subprocess
import sys
import tarfile
from types import SimpleNamespace

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import sweep  # noqa: E402


def write_metrics(run_dir, recs):
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_seconds_per_step_and_summary(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    out.mkdir()
    # step 0 took 30 s (start-up, first compilation); then 2 s per step
    write_metrics(runs / "calib", [{"step": s, "elapsed": 30.0 + 2 * s} for s in range(8)])
    assert sweep.seconds_per_step(runs / "calib") == 2.0
    write_metrics(runs / "hn_adapter", [{"step": 4, "elapsed": 9.0}, {"step": 9, "elapsed": 20.0, "val_loss": 2.0,
                                        "val_loss_shuffled": 2.25, "adapter_cos": 0.5, "task_share": 0.375}])
    write_metrics(runs / "mt_lora", [{"step": 9, "elapsed": 20.0, "val_loss": 1.5}])
    (runs / "hn_adapter" / "step_000010").mkdir()
    (runs / "hn_adapter" / "step_000010" / "hypernet.safetensors").write_bytes(b"weights")
    sweep.pack(SimpleNamespace(runs=str(runs)), out, {"jobs": {}})
    lines = (out / "summary.md").read_text().splitlines()
    assert "| hn_adapter | 9 | 2.0000 | 2.2500 | +0.2500 | 0.500 | 0.375 |" in lines
    assert "| mt_lora | 9 | 1.5000 | - | - | - | - |" in lines
    assert "| abl_k4 | - | - | - | - | - | - |" in lines  # not run
    with tarfile.open(out / "sweep.tar.gz") as tar:
        names = tar.getnames()
    assert "runs/hn_adapter/metrics.jsonl" in names and "out/summary.md" in names
    assert not any("step_" in n for n in names)  # checkpoints never packed


def test_sweep_errors_are_one_line(tmp_path):
    base = [sys.executable, "scripts/sweep.py", "--runs", str(tmp_path / "r"), "--out", str(tmp_path / "o")]
    r = subprocess.run(base + ["--step_s", "1", "--only", "hn_adapter,abl_k9"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == (
        "error: --only hn_adapter,abl_k9: unknown runs ['abl_k9']; expected some of "
        "mt_lora,hn_prompt,hn_dd05,hn_adapter,abl_k1,abl_k4,abl_no_emb,abl_plain")
    r = subprocess.run(base, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == "error: --step_s: give seconds per step (run --calibrate first)"
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()  # nothing created
