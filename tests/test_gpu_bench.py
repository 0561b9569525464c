"""bench/gpu.py on CPU with its tiny config, and its FLOP accounting against torch's FLOP counter."""

import importlib.util
import json
import os
import subprocess
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import train
from conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_gpu", ROOT / "bench" / "gpu.py")
gpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu)


def test_model_flops_equals_flop_counter():
    """Frozen base: forward + activation gradients, head only on targets, attention over the full square
    (the math SDPA kernel is counted as bmm; causal=False counts the same square)."""
    model = gpu.build_model(gpu.TINY, torch.device("cpu"), torch.float32, max_seq_len=32)
    assert not any(p.requires_grad for p in model.parameters())
    model.tok_embeddings.register_forward_hook(lambda m, i, o: o.detach().requires_grad_())  # grads flow, no weight grads
    tokens = torch.randint(0, 256, (3, 33))
    mask = torch.zeros(3, 33, dtype=torch.bool)
    mask[:, 25:] = True
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        train.lm_loss_sum(model, tokens, mask).backward()
    n_targets = int(mask[:, 1:].sum())
    assert gpu.model_flops(model.args, 3, 32, n_targets, causal=False) == counter.get_total_flops()
    attention = gpu.model_flops(model.args, 3, 32, n_targets, causal=False) - gpu.model_flops(model.args, 3, 32, n_targets)
    assert attention == counter.get_flop_counts()["Global"][torch.ops.aten.bmm] // 2


def test_gpu_bench_tiny_runs_and_appends_results(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nearlier figures\n")
    r = subprocess.run([sys.executable, "bench/gpu.py", "--tiny", "--write_results", "--results", str(results)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["device"] == "cpu" and res["config"] == "tiny"
    assert res["train_tokens_per_s"] > 0 and res["adapter_ms"] > 0 and res["decode_b1_eager_tokens_per_s"] > 0
    assert res["decode_b16_eager_tokens_per_s"] > 0
    assert all(torch.isfinite(torch.tensor(res["train_loss_first_last"])))
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nearlier figures\n")
    assert "### bench/gpu.py on cpu" in text and json.dumps(res) in text
