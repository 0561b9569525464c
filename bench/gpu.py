"""Llama 3 8B on one GPU with random weights (not a test): prints JSON, the last line.

    python bench/gpu.py [--write_results]     # one CUDA device; about 2-4 minutes on an H100 / H200
    python bench/gpu.py --tiny                # a tiny config on CPU: the same code path in seconds

No weights are needed: the model is built on the meta device, materialised on the GPU in bf16
(to_empty) and filled there with N(0, 0.02) (norm weights 1). Figures:

  train     hypernetwork training step as train.py runs it (train.forward_backward: one hypernetwork
            pass for the step's tasks, per-row adapters in packed micro-batches, output_mask on the
            target positions, then AdamW on the hypernetwork): --micros micro-batches of --rows rows of
            --seq_len tokens, the rows' tasks interleaved (every micro-batch holds --tasks tasks), the
            last --target_frac of each row the target. Median step time, tokens/s, peak memory
            (torch.cuda.max_memory_allocated).
  mfu       model FLOPs utilisation with frozen-base accounting: the base's weights get no gradients,
            so a token costs 2 N (forward) + 2 N (gradient w.r.t. activations) FLOPs:
                flops/step = 4 N_layers * tokens + 4 dim vocab * targets + 6 n_layers T dim * tokens
            N_layers: the parameters of the layers' linears (embedding excluded; the output head only
            runs on target positions, output_mask); the last term is causal attention (QK^T and AV,
            2 T dim per token averaged over the causal triangle, backward twice the forward). The
            adapters and the hypernetwork are not counted (under 1 %). Peak: the device's dense bf16
            FLOP/s (H100/H200 SXM 989 TFLOP/s, A100 312), or --peak_tflops.
  adapter   latency of writing one task's adapter: hypernetwork forward (K passes) in inference mode.
  decode    greedy decoding tokens/s (model.generate, --prompt_len prompt, --new_tokens tokens) at
            batch 1 (one adapter) and batch 16 (per-row adapters of 4 tasks), eager, and compiled
            when model.generate has a `compile` argument. Decode time = t(new_tokens) - t(1 token),
            so the prefill is excluded. Batch-1 bound: weight bytes / memory bandwidth per token.
"""
import argparse
import inspect
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import lora  # noqa: E402
import model as llama  # noqa: E402
import train  # noqa: E402
from hypernet import HyperNetConfig, HyperNetwork  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402

LLAMA3_8B = dict(dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, vocab_size=128256, multiple_of=1024,
                 ffn_dim_multiplier=1.3, norm_eps=1e-5, rope_theta=500000.0)
TINY = dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=256, multiple_of=32, norm_eps=1e-5,
            rope_theta=500000.0)
# (name contains, dense bf16 FLOP/s, memory bandwidth B/s); first match wins
DEVICES = [("H200", 989e12, 4.8e12), ("H100 PCIe", 756e12, 2.0e12), ("H100", 989e12, 3.35e12),
           ("A100", 312e12, 2.0e12)]


def build_model(params, device, dtype, max_seq_len):
    """Random Llama in `dtype` directly on `device`: no host copy of the weights."""
    with torch.device("meta"):
        model = Transformer(ModelArgs(**params, max_seq_len=max_seq_len))
    model = model.to(dtype=dtype).to_empty(device=device)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.fill_(1.0) if name.endswith("norm.weight") else p.normal_(0.0, 0.02)
    model.init_rope(device)
    return model.requires_grad_(False)


def model_flops(args: ModelArgs, rows, seq_len, targets, causal=True):
    """FLOPs of one frozen-base forward + backward (activation gradients only) over rows x seq_len
    tokens with the head on `targets` positions. causal=False counts attention over the full T x T
    square, as torch.utils.flop_counter does (a flash kernel skips the masked half)."""
    shapes = lora.linear_shapes(args)
    n_layers_params = args.n_layers * sum(i * o for i, o in shapes.values())
    tokens = rows * seq_len
    attention = args.n_layers * 3 * 4 * seq_len * args.dim * tokens  # fwd 4 T dim per token, bwd 2x
    return 4 * n_layers_params * tokens + 4 * args.dim * args.vocab_size * targets + attention // (2 if causal else 1)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, device, iters, warmup):
    times = []
    for i in range(warmup + iters):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Ids:
    """generate() needs only these of a tokenizer when prompts are ids and stop is given."""
    add_bos, stop_tokens = False, ()

    def decode(self, ids):
        return ""


def bench_train(model, hn, codes, a, device, peak_flops):
    rows, T, n_tasks = a.rows, a.seq_len, a.tasks
    g = torch.Generator().manual_seed(0)
    micros = []
    for k in range(a.micros):
        tokens = torch.randint(0, model.args.vocab_size, (rows, T + 1), generator=g)  # T inputs, T targets
        mask = torch.zeros(rows, T + 1, dtype=torch.bool)
        mask[:, T + 1 - max(1, int(a.target_frac * T)):] = True
        micros.append(([(k * rows + r) % n_tasks for r in range(rows)], tokens, mask))
    n_targets = sum(m[:, 1:].sum().item() for _, _, m in micros)
    opt = torch.optim.AdamW(hn.parameters(), lr=1e-4, betas=(0.9, 0.95))
    losses = []

    def step():
        losses.append(train.forward_backward(model, hn, hn, codes, micros, 1 / n_targets, device, False).item() / n_targets)
        torch.nn.utils.clip_grad_norm_(hn.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    dt = median_time(step, device, a.steps, warmup=2)
    flops = model_flops(model.args, rows * a.micros, T, n_targets)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    mfu = {"mfu": round(flops / dt / peak_flops, 4), "peak_tflops": peak_flops / 1e12} if peak_flops else {}
    return {**mfu, "train_tokens_per_s": round(rows * a.micros * T / dt, 1), "train_step_s": round(dt, 4),
            "train_tokens_per_step": rows * a.micros * T, "train_targets_per_step": n_targets,
            "train_loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
            "train_peak_mem_gb": round(peak / 2 ** 30, 2) if peak else None,
            "model_tflops_per_step": float(f"{flops / 1e12:.4g}"), "achieved_tflops": float(f"{flops / dt / 1e12:.4g}")}


@torch.inference_mode()
def bench_adapter(hn, codes, device, iters):
    hn.eval()
    dt = median_time(lambda: hn.adapters(hn(codes[:1])), device, iters, warmup=5)
    hn.train()
    return {"adapter_ms": round(dt * 1e3, 3)}


def bench_decode(model, hn, codes, a, device):
    res = {}
    gen_args = inspect.signature(llama.generate).parameters
    variants = [("eager", {})] + ([("compiled", {"compile": True})] if "compile" in gen_args and not a.no_compile else [])
    if "compile" not in gen_args:
        res["decode_compiled"] = "skipped: model.generate has no compile argument"
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for batch in (1, 16):
            prompts = torch.randint(0, model.args.vocab_size, (batch, a.prompt_len), generator=g).tolist()
            ids = list(range(min(batch, 4)))  # batch 16: 4 tasks, rows interleaved
            row_index = None if batch == 1 else torch.tensor([r % 4 for r in range(batch)], device=device)
            lora.set_weights(model, hn.adapters(hn(codes[ids])), row_index)
            for name, kw in variants:
                run = lambda n: llama.generate(model, Ids(), prompts, n, stop=[], **kw)  # noqa: E731
                try:
                    run(a.new_tokens)  # warm-up (compiles)
                except Exception as e:  # a failed compile must not cost the other figures of a lent GPU
                    res[f"decode_b{batch}_{name}"] = f"failed: {type(e).__name__}: {str(e)[:200]}"
                    continue
                t_full = median_time(lambda: run(a.new_tokens), device, a.decode_iters, warmup=0)
                t_one = median_time(lambda: run(1), device, a.decode_iters, warmup=0)
                res[f"decode_b{batch}_{name}_tokens_per_s"] = round(batch * (a.new_tokens - 1) / (t_full - t_one), 1)
            lora.clear_weights(model)
    return res


def write_results(path, result, command):
    """Append a section to bench/RESULTS.md (temp file + rename: the old file survives a crash)."""
    path = Path(path)
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    rows = "".join(f"| {k} | {v} |\n" for k, v in result.items())
    section = (f"\n### bench/gpu.py on {result['device']}, {result['date']}\n\n`{command}`\n\n"
               f"| figure | value |\n|---|---|\n{rows}\n```json\n{json.dumps(result)}\n```\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(old.rstrip("\n") + "\n" + section)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny config on CPU (tests)")
    p.add_argument("--device", default=None, help="default: cuda if available (cpu with --tiny)")
    p.add_argument("--seq_len", type=int, default=2048)
    p.add_argument("--rows", type=int, default=4, help="rows per micro-batch")
    p.add_argument("--micros", type=int, default=2, help="micro-batches per step")
    p.add_argument("--tasks", type=int, default=4, help="tasks per step, interleaved over the rows")
    p.add_argument("--target_frac", type=float, default=0.25, help="share of each row that is target")
    p.add_argument("--steps", type=int, default=5, help="timed training steps (after 2 warm-up steps)")
    p.add_argument("--prompt_len", type=int, default=128)
    p.add_argument("--new_tokens", type=int, default=128)
    p.add_argument("--decode_iters", type=int, default=3)
    p.add_argument("--no_compile", action="store_true", help="skip compiled decoding")
    p.add_argument("--activation_checkpointing", action="store_true")
    p.add_argument("--peak_tflops", type=float, default=None, help="dense bf16 peak, if the device is not known")
    p.add_argument("--write_results", action="store_true", help="append the figures to --results")
    p.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"))
    a = p.parse_args(argv)
    t_start = time.perf_counter()
    if a.tiny:
        params, hcfg = TINY, HyperNetConfig(rank=4, a=16, b=16, d_h=32, n_layers=1)
        a.seq_len, a.prompt_len, a.new_tokens, a.steps, a.decode_iters = min(a.seq_len, 64), 8, 8, 2, 1
        a.no_compile = True  # compiling takes tens of seconds on a CPU; the GPU run measures it
        device = torch.device(a.device or "cpu")
    else:
        params, hcfg = LLAMA3_8B, HyperNetConfig()
        if not (a.device or torch.cuda.is_available()):
            sys.exit("error: no CUDA device (use --tiny for the CPU code path)")
        device = torch.device(a.device or "cuda")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # CPUs here have no bf16 units
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    known = next(((f, b) for key, f, b in DEVICES if key in name), (None, None))
    peak_flops = a.peak_tflops * 1e12 if a.peak_tflops else known[0]

    model = build_model(params, device, dtype, max_seq_len=max(a.seq_len, a.prompt_len + a.new_tokens))
    model.gradient_checkpointing = a.activation_checkpointing
    torch.manual_seed(0)
    hn = HyperNetwork(hcfg, model.args).to(device)  # fp32, as in train.py
    hn.inject(model)
    codes = torch.randn(max(a.tasks, 4), model.args.dim, device=device)  # stand-ins for encoded instructions
    hn.fit_stats_from_codes(codes)

    res = {"device": name, "dtype": str(dtype).removeprefix("torch."), "config": "tiny" if a.tiny else "llama3_8b",
           "seq_len": a.seq_len, "rows_x_micros": f"{a.rows}x{a.micros}", "tasks": a.tasks}
    res.update(bench_train(model, hn, codes, a, device, peak_flops))
    res.update(bench_adapter(hn, codes, device, iters=5 if a.tiny else 50))
    res.update(bench_decode(model, hn, codes, a, device))
    if known[1]:
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        bound = known[1] / weight_bytes
        res["decode_b1_bound_tokens_per_s"] = round(bound, 1)
        for k in [k for k in res if k.startswith("decode_b1_") and k.endswith("_tokens_per_s") and "bound" not in k]:
            res[k.replace("_tokens_per_s", "_of_bound")] = round(res[k] / bound, 3)
    res["torch"] = torch.__version__
    res["wall_s"] = round(time.perf_counter() - t_start, 1)
    res["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if a.write_results:
        write_results(a.results, res, "python bench/gpu.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
