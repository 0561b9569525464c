"""The project around the modules: Makefile, scripts/plot.py, the design notes the docstrings cite."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(run_dir, n, slope):
    run_dir.mkdir(parents=True)
    rows = [{"step": s, "loss": 5 - slope * s, "lr": 1e-3, "time": "2026-11-30T12:00:00+00:00", "elapsed": 2.0 * (s + 1),
             "adapter_cos": 1 - 0.01 * s, "task_share": 0.01 * s, **({"val_loss": 5.2 - slope * s} if s % 3 == 2 else {})}
            for s in range(n)]
    rows.insert(2, {"step": 2, "loss": None, "skipped": "non-finite loss", "lr": 1e-3, "elapsed": 5.0})
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_plot_runs(tmp_path):
    pytest.importorskip("matplotlib", reason="scripts/plot.py's optional extra")
    plot = load_script("plot")
    write_run(tmp_path / "a", 8, 0.2)
    write_run(tmp_path / "b", 5, 0.1)
    plot.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp.png")])
    png = (tmp_path / "cmp.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1200, 800)  # 2 panels x (vs step, vs time) at 100 dpi

    (tmp_path / "empty").mkdir()
    for run, expected in [("empty", "empty: no metrics.jsonl (not a train.py run directory"),
                          ("missing", "missing: no metrics.jsonl")]:
        with pytest.raises(SystemExit) as e:
            plot.main([str(tmp_path / "a"), str(tmp_path / run), "--out", str(tmp_path / "bad.png")])
        assert str(e.value.code).startswith("error: ") and expected in e.value.code and "\n" not in e.value.code
    assert not (tmp_path / "bad.png").exists()


def test_product_code_never_imports_matplotlib():
    code = "import sys, train, hypernet, lora, data, model; print('matplotlib' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def test_docstrings_cite_design_notes_in_the_repo():
    design = ROOT / "docs" / "DESIGN.md"
    assert design.is_file()
    text = design.read_text()
    for heading in ("Lightweight LoRA", "Hypernetwork", "Checkpoints", "Prompt", "Metrics"):
        assert re.search(rf"^#+ .*{heading}", text, re.M), heading
    cited = 0
    for f in ROOT.glob("*.py"):
        for m in re.finditer(r"[\w/.]*DESIGN\.md", f.read_text()):
            assert m.group() == "docs/DESIGN.md", f"{f.name} cites {m.group()}"
            cited += 1
    assert cited >= 3


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_deps_stamp_follows_the_interpreter(tmp_path):
    """`make deps` installs again after switching Python: the stamp belongs to the interpreter."""
    for f in ("Makefile", "requirements.txt", "requirements-test.txt"):
        shutil.copy(ROOT / f, tmp_path / f)
    other = tmp_path / "venv-python"
    other.symlink_to(sys.executable)  # another interpreter path, as a venv's bin/python is

    def dry_run(py):
        out = subprocess.run(["make", "-n", "deps", f"PY={py}"], cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout
        return out, re.search(r"touch (\S+)", out)

    out, stamp = dry_run(sys.executable)
    assert "pip install" in out and stamp
    (tmp_path / stamp.group(1)).touch()  # as if installed for this interpreter
    assert "pip install" not in dry_run(sys.executable)[0]
    out, other_stamp = dry_run(other)
    assert "pip install" in out and other_stamp.group(1) != stamp.group(1)
