"""Batched greedy generation on real SNI prompts of mixed lengths (not a test): prints figures, the last line is JSON.

    python bench/generate.py [--batch 8 16] [--new_tokens 8] [--repeats 3] [--threads N] [--no_compile]

The demo model (checkpoints/smollm2-135m, fp32, CPU) generates --new_tokens tokens (no stop token, so
every row produces all of them) for B real SNI prompts: each task's first held-out instance, zero-shot
Tk-Instruct prompt, prompts of 60..--max_prompt_len tokens sorted by length and B of them picked evenly
across that range (mixed lengths, as an evaluation batch has). Systems, each producing the same B x N
tokens:

    ours         model.generate on the whole batch (left padding, one prefill, then one token per step)
    ours_1x1     model.generate one prompt at a time (batch 1)
    compiled     model.generate(compile=True): static KV cache + torch.compile'd decode_step, whole batch
    compiled_1x1 the same, one prompt at a time
    hf           transformers' LlamaForCausalLM.generate on the left-padded batch with its attention mask
                 (same weights, sdpa attention, dynamic cache, greedy)
    hf_1x1       the same, one prompt at a time

Every system's text must equal `ours_1x1` (checked, printed). Each system first runs once with two new
tokens on the first two prompts (the compiled systems: on their own batch, which compiles; timed
separately). Then rounds alternate
the systems, so load from other jobs on the shared machine hits all of them alike; figures are medians
over --repeats rounds. tokens/s counts generated tokens (B x N) over the time of the whole call (prefill
included), both wall time and this process's CPU time: on a shared machine the CPU time (threads=1)
is the steadier measure of the work each system does, the wall time the one a user waits.
"""
import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))
import data  # noqa: E402
from conftest import hf_llama  # noqa: E402  (our weights in transformers' layout: the test suite's oracle)
from model import Tokenizer, generate, load_model  # noqa: E402

SNI_DIR = ROOT.parent / "shared" / "data" / "sni"
DEMO_CKPT = ROOT / "checkpoints" / "smollm2-135m"


def sni_prompts(tokenizer, n, min_len=60, max_len=320, data_dir=SNI_DIR):
    """n prompt id lists spread evenly over the lengths of every task's first held-out prompt."""
    ts = data.load_tasks(data_dir, log=None)
    pool = []
    for task in ts.seen + ts.unseen:
        ids, _ = data.encode_prompt(tokenizer, task, task.heldout[0])
        if min_len <= len(ids) <= max_len:
            pool.append(ids)
    pool.sort(key=len)
    if len(pool) < n:
        raise SystemExit(f"only {len(pool)} SNI prompts of {min_len}..{max_len} tokens in {data_dir}, need {n}")
    return [pool[round(i * (len(pool) - 1) / max(n - 1, 1))] for i in range(n)]


def hf_generate(hf, tokenizer, prompts, n_new):
    """transformers' generate on the left-padded batch; -> completions decoded like ours."""
    L = max(map(len, prompts))
    ids = torch.zeros(len(prompts), L, dtype=torch.long)
    mask = torch.zeros(len(prompts), L, dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, L - len(p):], mask[i, L - len(p):] = torch.tensor(p), 1
    out = hf.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n_new, do_sample=False, pad_token_id=0)
    assert out.shape[1] == L + n_new, "transformers stopped early"
    return [tokenizer.decode(row) for row in out[:, L:].tolist()]


def bench(model, hf, tokenizer, prompts, n_new, repeats, systems):
    B = len(prompts)
    ours = lambda ps, c=False, n=n_new: generate(model, tokenizer, ps, n, stop=(), compile=c)  # noqa: E731
    run = {"ours": lambda: ours(prompts),
           "ours_1x1": lambda: [ours([p])[0] for p in prompts],
           "compiled": lambda: ours(prompts, True),
           "compiled_1x1": lambda: [ours([p], True)[0] for p in prompts],
           "hf": lambda: hf_generate(hf, tokenizer, prompts, n_new),
           "hf_1x1": lambda: [hf_generate(hf, tokenizer, [p], n_new)[0] for p in prompts]}
    # the compiled systems warm up at their own batch size: a batch size compiles once
    warm = {"ours": lambda: ours(prompts[:2], n=2), "ours_1x1": lambda: ours(prompts[:1], n=2),
            "compiled": lambda: ours(prompts, True, 2), "compiled_1x1": lambda: ours(prompts[:1], True, 2),
            "hf": lambda: hf_generate(hf, tokenizer, prompts[:2], 2),
            "hf_1x1": lambda: hf_generate(hf, tokenizer, prompts[:1], 2)}
    warmup = {}
    for s in systems:
        t0 = time.perf_counter()
        warm[s]()
        warmup[s] = time.perf_counter() - t0
    print("  warm-up: " + ", ".join(f"{s} {warmup[s]:.1f} s" for s in systems), flush=True)
    wall, cpu, texts = {s: [] for s in systems}, {s: [] for s in systems}, {}
    for r in range(repeats):
        for s in systems:
            t0, c0 = time.perf_counter(), time.process_time()
            texts[s] = run[s]()
            wall[s].append(time.perf_counter() - t0)
            cpu[s].append(time.process_time() - c0)
        print(f"  round {r + 1}: " + ", ".join(f"{s} {wall[s][-1]:.1f} s ({cpu[s][-1]:.1f} s CPU)" for s in systems),
              flush=True)
    ref = texts.get("ours_1x1", texts[systems[0]])
    res = {s: {"ms": 1e3 * statistics.median(wall[s]), "max_ms": 1e3 * max(wall[s]),
               "cpu_ms": 1e3 * statistics.median(cpu[s]), "tok_s": B * n_new / statistics.median(wall[s]),
               "cpu_tok_s": B * n_new / statistics.median(cpu[s]), "warmup_ms": 1e3 * warmup[s],
               "same_text": texts[s] == ref} for s in systems}
    lens = [len(p) for p in prompts]
    print(f"B={B}, prompts {min(lens)}..{max(lens)} tokens (mean {sum(lens) / B:.0f}; left padding is "
          f"{1 - sum(lens) / (B * max(lens)):.0%} of the batched prefill), {n_new} new tokens each, "
          f"median of {repeats}:")
    for s in systems:
        r = res[s]
        print(f"  {s:>12}: wall {r['ms']:8.0f} ms (max {r['max_ms']:.0f}) {r['tok_s']:6.2f} tokens/s | CPU "
              f"{r['cpu_ms']:8.0f} ms {r['cpu_tok_s']:6.2f} tokens/s | warm-up {r['warmup_ms']:.0f} ms | "
              f"same text as ours_1x1: {r['same_text']}")
    ratios = {}
    for a, b in [("ours", "hf"), ("ours", "ours_1x1"), ("ours_1x1", "hf_1x1"), ("hf", "hf_1x1"),
                 ("compiled", "ours"), ("compiled", "hf"), ("compiled_1x1", "ours_1x1"), ("compiled_1x1", "hf_1x1")]:
        if a in res and b in res:
            ratios[f"{a}/{b}"] = {"wall": res[a]["tok_s"] / res[b]["tok_s"],
                                  "cpu": res[a]["cpu_tok_s"] / res[b]["cpu_tok_s"]}
    print("  throughput ratios (wall, CPU): "
          + ", ".join(f"{k} {v['wall']:.2f}, {v['cpu']:.2f}" for k, v in ratios.items()))
    return {"B": B, "prompt_lens": lens, "n_new": n_new,
            "systems": {s: {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
                        for s, r in res.items()},
            "ratios": {k: {m: round(x, 3) for m, x in v.items()} for k, v in ratios.items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt_dir", default=str(DEMO_CKPT))
    ap.add_argument("--data_dir", default=str(SNI_DIR))
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--new_tokens", type=int, default=8)
    ap.add_argument("--max_prompt_len", type=int, default=320)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    ap.add_argument("--systems", nargs="+", default=["ours", "ours_1x1", "compiled", "compiled_1x1", "hf", "hf_1x1"])
    ap.add_argument("--no_compile", action="store_true", help="drop the compiled systems")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    systems = [s for s in a.systems if not (a.no_compile and s.startswith("compiled"))]
    import transformers
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads, "
          f"fp32, CPU; {a.ckpt_dir}")
    model = load_model(a.ckpt_dir)
    tokenizer = Tokenizer(Path(a.ckpt_dir) / "tokenizer.model")
    hf = hf_llama(model)
    hf.generation_config.eos_token_id = None  # every row generates all new tokens, as ours with stop=()
    results = []
    for B in a.batch:
        prompts = sni_prompts(tokenizer, B, max_len=a.max_prompt_len, data_dir=a.data_dir)
        results.append(bench(model, hf, tokenizer, prompts, a.new_tokens, a.repeats, systems))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS {peak:.2f} GB (both models' weights: ours mmap'd, transformers' a copy)")
    print(json.dumps({"threads": torch.get_num_threads(), "peak_rss_gb": round(peak, 2), "results": results}))


if __name__ == "__main__":
    main()
