"""Benchmarks for model.py (not tests): prints figures, the last line is JSON.

    python bench/model.py [--batch 4] [--seq 128] [--iters 5] [--warmup 1] [--ckpt_gb 1.0] [--threads N]

(a) training throughput: forward + backward tokens/s of our Transformer vs transformers'
    LlamaForCausalLM, same config (SmolLM2-135M shape), random weights, fp32, same batch and
    the same loss; iterations alternate between the two so machine noise hits both alike;
    median of --iters after --warmup. Target: ours not slower (ratio >= 1).
(b) loading memory: peak resident memory of load_model on a random ~1 GB fp32 checkpoint,
    as a ratio to the file size. Target: <= 1.1 (the weights are never held twice).
    Method: a fresh `python bench/model.py --load_child DIR` imports torch and model, reads
    its peak RSS so far (the baseline after imports), calls load_model, then reads every
    parameter once (what the first forward does: with mmap the file's pages are only resident
    once touched), and reports peak-minus-baseline after each step. File-backed mapped pages
    count in RSS, so the mmap'd weights are included. The peak is VmHWM, which is ru_maxrss
    minus what Linux carries over from the parent across fork+exec. The figure includes a fixed
    ~65 MB that torch spends once on the first meta-device op (it imports its meta kernels,
    sympy and ~800 modules), independent of the checkpoint size.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from model import ModelArgs, Transformer, ffn_hidden_dim, load_model  # noqa: E402

SMOLLM2 = dict(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, vocab_size=49152, multiple_of=256,
               norm_eps=1e-5, rope_theta=100000.0)
# ~246M params = ~0.98 GB in fp32 (Llama-2-like vocabulary, GQA 4:1)
LOAD_CKPT = dict(dim=1024, n_layers=16, n_heads=16, n_kv_heads=4, vocab_size=32000, multiple_of=256,
                 norm_eps=1e-5, rope_theta=500000.0)


def peak_rss_bytes():
    # VmHWM is this address space's peak RSS: ru_maxrss without what it inherits across fork+exec
    # (Linux carries the parent's peak into ru_maxrss, which here would be the benchmark's own ~2 GB)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: no /proc


def hf_llama(a: ModelArgs):
    import transformers

    cfg = transformers.LlamaConfig(
        vocab_size=a.vocab_size, hidden_size=a.dim, intermediate_size=ffn_hidden_dim(a),
        num_hidden_layers=a.n_layers, num_attention_heads=a.n_heads, num_key_value_heads=a.n_kv_heads,
        rms_norm_eps=a.norm_eps, rope_parameters={"rope_type": "default", "rope_theta": a.rope_theta},
        max_position_embeddings=a.max_seq_len,
        tie_word_embeddings=False, attention_bias=False, use_cache=False)
    return transformers.LlamaForCausalLM(cfg)


def bench_speed(batch, seq, iters, warmup):
    torch.manual_seed(0)
    args = ModelArgs(**SMOLLM2, max_seq_len=seq)
    ours, hf = Transformer(args).train(), hf_llama(args).train()
    tokens = torch.randint(0, args.vocab_size, (batch, seq + 1))
    x, y = tokens[:, :-1], tokens[:, 1:]
    steps = {
        "ours": lambda: ours(x),
        "hf": lambda: hf(input_ids=x, use_cache=False).logits,
    }
    models = {"ours": ours, "hf": hf}
    times = {k: [] for k in steps}
    for i in range(warmup + iters):
        for name, fwd in steps.items():  # alternate, so a noisy neighbour slows both
            models[name].zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            logits = fwd()
            F.cross_entropy(logits.float().flatten(0, 1), y.flatten()).backward()
            dt = time.perf_counter() - t0
            if i >= warmup:
                times[name].append(dt)
    tok_s = {k: batch * seq / statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:>4}: fwd+bwd {batch}x{seq} median {statistics.median(v):.3f} s "
              f"(min {min(v):.3f}, max {max(v):.3f}) -> {tok_s[k]:.1f} tokens/s")
    # each ours/hf pair ran back to back, so the median of per-pair ratios resists a load that
    # changes during the run (the machine is shared) better than a ratio of medians
    ratio = statistics.median(h / o for o, h in zip(times["ours"], times["hf"]))
    print(f"speed ratio ours/hf: {ratio:.3f} median of pairs, {tok_s['ours'] / tok_s['hf']:.3f} of medians, "
          f"{min(times['hf']) / min(times['ours']):.3f} of minima (target >= 1)")
    return {"ours_tok_s": round(tok_s["ours"], 1), "hf_tok_s": round(tok_s["hf"], 1), "speed_ratio": round(ratio, 3)}


def load_child(ckpt_dir):
    """Runs in a fresh process: peak RSS added by load_model, and after touching every weight."""
    base = peak_rss_bytes()
    model = load_model(ckpt_dir, dtype=torch.float32)
    after_load = peak_rss_bytes()
    total = 0.0
    for p in model.parameters():  # read each page of each weight once
        total += p.detach().sum().item()
    after_touch = peak_rss_bytes()
    print(json.dumps({"baseline": base, "load": after_load - base, "touched": after_touch - base}))


def bench_load(ckpt_gb):
    scale = ckpt_gb / 0.98  # n_layers scales the size; the default config is ~0.98 GB
    params = {**LOAD_CKPT, "n_layers": max(1, round(LOAD_CKPT["n_layers"] * scale))}
    with tempfile.TemporaryDirectory() as d:
        with torch.device("meta"):
            shapes = {k: v.shape for k, v in Transformer(ModelArgs(**params)).state_dict().items()}
        torch.manual_seed(0)
        sd = {k: torch.randn(s) * 0.02 for k, s in shapes.items()}
        torch.save(sd, Path(d) / "consolidated.00.pth")
        del sd
        (Path(d) / "params.json").write_text(json.dumps(params))
        size = (Path(d) / "consolidated.00.pth").stat().st_size
        r = subprocess.run([sys.executable, __file__, "--load_child", d], capture_output=True, text=True, check=True)
        m = json.loads(r.stdout.strip().splitlines()[-1])
    ratio_load, ratio = m["load"] / size, m["touched"] / size
    print(f"checkpoint {size / 1e9:.3f} GB ({params['n_layers']} layers, dim {params['dim']}); "
          f"baseline RSS after imports {m['baseline'] / 1e9:.3f} GB")
    print(f"peak RSS - baseline: after load_model {m['load'] / 1e9:.3f} GB ({ratio_load:.3f}x file), "
          f"after touching all weights {m['touched'] / 1e9:.3f} GB ({ratio:.3f}x file; target <= 1.1)")
    return {"ckpt_bytes": size, "load_rss_ratio_lazy": round(ratio_load, 3), "load_rss_ratio": round(ratio, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--ckpt_gb", type=float, default=1.0)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    ap.add_argument("--skip", choices=["speed", "load"], action="append", default=[])
    ap.add_argument("--load_child", help=argparse.SUPPRESS)  # internal: the fresh process of (b)
    a = ap.parse_args()
    if a.load_child:
        return load_child(a.load_child)
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, CPU")
    result = {"threads": torch.get_num_threads()}
    if "speed" not in a.skip:
        result |= bench_speed(a.batch, a.seq, a.iters, a.warmup)
    if "load" not in a.skip:
        result |= bench_load(a.ckpt_gb)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
