"""Training benchmarks (not tests): prints figures, the last line JSON.

    python bench/train.py [--data_dir ../shared/data/sni] [--steps 4] [--pad_steps 50] [--skip pack,peft,vocab]
                          [--threads N] [-- more train.py flags]

Every part uses the same global batches: data.sample_batch for steps 0..steps-1 of the default flags
(4 tasks x 4 examples, seed 0) on the demo model (SmolLM2-135M-Instruct, `make demo-ckpt`), cut into
micro-batches by train.micro_batches exactly as train.py does. fp32 on CPU. Step 0 is a warm-up
(one-time costs: allocator, thread pools), steps 1..steps-1 are timed.

(pack) train.py's step (train.forward_backward, gradient clipping, AdamW) in mode hypernet and mode
    mt_lora, each with --pack 0 (one task per micro-batch) and --pack 1 (tasks share micro-batches,
    rows grouped by length), all four on the same step's data back to back (the order alternates per
    step), so machine noise hits all alike. Reports the padded fraction of tokens (over --pad_steps
    steps: it needs only the tokenizer), target tokens/s, and the hypernet / mt_lora step-time ratio
    (goal <= 1.10).
(peft) the same LoRA configuration as --mode mt_lora (plain LoRA r=8, alpha 16, on wq wk wv wo w1 w2
    w3) trained with transformers' LlamaForCausalLM + PEFT (the user's alternative) on the same base
    weights, the same adapter initial values, the same micro-batches and AdamW: our step is
    train.forward_backward + optimizer.step; theirs passes labels (-100 off target) and
    num_items_in_batch, as a transformers Trainer does. Steps alternate between the two; losses must
    agree (same computation) and are printed. Peak memory: the model's weights plus the largest rise
    of resident memory during a step (Linux: /proc/self/clear_refs resets the high-water mark).
    Goal: ours >= 1.3x their tokens/s.
(vocab) what output_mask (logits only at target positions) is worth at Llama 3's vocabulary: a
    random model of the demo shape with vocab_size 128256 and the mt_lora adapter, forward+backward
    of the summed target loss with output_mask vs full logits (B, T, vocab) indexed afterwards.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import data  # noqa: E402
import lora  # noqa: E402
import train  # noqa: E402
from hypernet import HyperNetConfig, HyperNetwork  # noqa: E402
from model import ModelArgs, Tokenizer, Transformer, load_model  # noqa: E402

LLAMA3_VOCAB = 128256


def rss(field="VmRSS"):
    """Resident memory in bytes (VmHWM: the high-water mark since the last reset_peak())."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no /proc/self/status: peak memory needs Linux")


def reset_peak():
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def timed(fn):
    """(seconds, peak resident-memory rise in bytes) of fn()."""
    reset_peak()
    base = rss()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, rss("VmHWM") - base


def step_batches(argv, steps):
    """train.py's args and micro-batches of steps 0..steps-1 (grad_accum 1), the tasks and the tokenizer."""
    args = train.get_args(argv)
    tasks = train.select_tasks(data.load_tasks(args.data_dir, split=args.split, english_only=args.english_only,
                                               n_heldout=args.n_heldout, seed=args.data_seed,
                                               max_train_instances=args.max_train_instances, log=None).seen, args.tasks)
    tokenizer = Tokenizer(Path(args.ckpt_dir) / "tokenizer.model")
    out = []
    for s in range(steps):
        batch = data.sample_batch(tasks, s * args.grad_accum, seed=args.seed,
                                  tasks_per_step=min(args.tasks_per_step, len(tasks)), examples_per_task=args.examples_per_task)
        real = sum(len(data.encode_example(tokenizer, tasks[t], i, args.n_shot, args.max_len).tokens) for t, i in batch)
        micros = train.micro_batches(batch, tokenizer, tasks, args)[0]
        out.append({"micros": micros, "real": real, "padded": sum(x.numel() for _, x, _ in micros),
                    "targets": sum(m[:, 1:].sum().item() for _, _, m in micros)})
    return args, out, tasks, tokenizer


# ----------------------------------------------------------------------------- (pack)


def bench_pack(a, common):
    res = {}
    configs = [(mode, pack) for mode in ("hypernet", "mt_lora") for pack in (0, 1)]
    stats = {pack: step_batches(common + ["--pack", str(pack)], max(a.steps, a.pad_steps))[1] for pack in (0, 1)}
    for pack in (0, 1):  # padding over more steps than are timed: it only needs the tokenizer
        padded, real = (sum(x[k] for x in stats[pack][:a.pad_steps]) for k in ("padded", "real"))
        n_micro = statistics.mean(len(x["micros"]) for x in stats[pack][:a.pad_steps])
        res[f"pad_frac_{a.pad_steps}_steps_pack{pack}"] = round(1 - real / padded, 4)
        print(f"--pack {pack}, steps 0..{a.pad_steps - 1}: {1 - real / padded:.1%} of the tokens are padding, "
              f"{n_micro:.2f} micro-batches per step")
    args, _, tasks, tokenizer = step_batches(common, 0)
    trainees = {}
    for mode in ("hypernet", "mt_lora"):  # each mode's model, trainable part, task codes and optimizer
        model = load_model(args.ckpt_dir, max_seq_len=args.max_len).requires_grad_(False)
        torch.manual_seed(args.seed)
        if mode == "hypernet":
            hn = HyperNetwork(HyperNetConfig(kind=args.kind, targets=tuple(args.targets.split(",")), rank=args.rank,
                                             a=args.lora_a, b=args.lora_b, alpha=args.alpha, seed=args.seed, d_h=args.d_h,
                                             n_layers=args.hn_layers, iterations=args.iterations,
                                             module_emb=not args.no_module_emb), model.args)
            hn.inject(model)
            trainee, codes = hn, hn.fit_task_stats(model, tokenizer, [data.task_text(t, args.task_examples) for t in tasks])
        else:
            lora.inject(model, "plain", tuple(args.targets.split(",")), args.rank, alpha=args.alpha, seed=args.seed, n_tasks=1)
            trainee, codes = train.LoRATrainee(model), None
        params = [p for p in trainee.parameters() if p.requires_grad]
        trainees[mode] = (model, trainee, codes, params, torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95)))

    def step(mode, b):  # train.py's step without its logging
        model, trainee, codes, params, opt = trainees[mode]
        train.forward_backward(model, trainee, trainee, codes, b["micros"], 1 / b["targets"], "cpu", False)
        torch.nn.utils.clip_grad_norm_(params, args.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for mode in trainees:  # warm-up: one-time costs (allocator, thread pools)
        step(mode, stats[1][0])
    times = {c: [] for c in configs}  # per timed step, seconds
    for s in range(1, a.steps):
        for mode, pack in configs if s % 2 else configs[::-1]:
            t0 = time.perf_counter()
            step(mode, stats[pack][s])
            times[mode, pack].append(time.perf_counter() - t0)
    steps = range(1, a.steps)
    total = {c: sum(times[c]) for c in configs}
    for pack in (0, 1):
        st = [stats[pack][s] for s in steps]
        padded, real, targets = (sum(x[k] for x in st) for k in ("padded", "real", "targets"))
        n_micro = statistics.mean(len(x["micros"]) for x in st)
        res[f"pad_frac_pack{pack}"] = round(1 - real / padded, 3)
        print(f"--pack {pack}: {n_micro:.2f} micro-batches per step, {padded} padded tokens for {real} real "
              f"({1 - real / padded:.1%} padding), {targets} targets over steps {steps.start}..{steps.stop - 1}")
        for mode in ("hypernet", "mt_lora"):
            t = total[mode, pack]
            res[f"{mode}_target_tok_s_pack{pack}"] = round(targets / t, 2)
            print(f"  {mode:8s} {t / len(steps):6.2f} s/step  {targets / t:7.2f} target tokens/s  "
                  f"{real / t:7.1f} real tokens/s  (steps {[round(x, 2) for x in times[mode, pack]]} s)")
    for mode in ("hypernet", "mt_lora"):
        res[f"{mode}_speedup_pack"] = round(total[mode, 0] / total[mode, 1], 3)
        print(f"{mode}: --pack 1 is {total[mode, 0] / total[mode, 1]:.3f}x --pack 0 (target tokens/s)")
    for pack in (0, 1):
        res[f"hypernet_over_mt_lora_pack{pack}"] = round(total["hypernet", pack] / total["mt_lora", pack], 3)
        print(f"step time hypernet / mt_lora, --pack {pack}: {res[f'hypernet_over_mt_lora_pack{pack}']:.3f} (goal <= 1.10)")
    return res


# ----------------------------------------------------------------------------- (peft)


def peft_model(model, args):
    """transformers LlamaForCausalLM + PEFT LoRA with our model's weights and our adapter's initial values."""
    import peft
    from conftest import hf_llama  # the weight mapping the parity tests use (wq/wk rows permuted)

    targets = args.targets.split(",")
    hf = hf_llama(model).train()
    cfg = peft.LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0, bias="none",
                          target_modules=[lora.HF_NAME[t].split(".")[1] for t in targets])
    hf = peft.get_peft_model(hf, cfg)
    with torch.no_grad():
        for name, m in lora.lora_modules(model):
            _, l, _, t = name.split(".")
            A, B = m.lora_A[0], m.lora_B[0]  # (r, in), (out, r)
            if t in ("wq", "wk"):
                B = lora.hf_permute(B, model.args.n_heads if t == "wq" else model.args.n_kv_heads)
            theirs = hf.get_submodule(f"base_model.model.model.layers.{l}.{lora.HF_NAME[t]}")
            theirs.lora_A["default"].weight.copy_(A)
            theirs.lora_B["default"].weight.copy_(B)
    return hf


def bench_peft(a, common):
    args, batches, _, _ = step_batches(common + ["--mode", "mt_lora"], a.steps)
    model = load_model(args.ckpt_dir, max_seq_len=args.max_len)
    torch.manual_seed(args.seed)
    lora.inject(model, "plain", tuple(args.targets.split(",")), args.rank, alpha=args.alpha, seed=args.seed, n_tasks=1)
    trainee = train.LoRATrainee(model)
    hf = peft_model(model, args)
    params = {"ours": lora.lora_parameters(model), "peft": [p for p in hf.parameters() if p.requires_grad]}
    assert sum(p.numel() for p in params["ours"]) == sum(p.numel() for p in params["peft"])
    opt = {k: torch.optim.AdamW(v, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0) for k, v in params.items()}
    weight_bytes = {"ours": sum(p.numel() * p.element_size() for p in model.parameters()),
                    "peft": sum(p.numel() * p.element_size() for p in hf.parameters())}

    def ours(b, losses):
        losses.append(train.forward_backward(model, trainee, trainee, None, b["micros"], 1 / b["targets"], "cpu", False).item()
                      / b["targets"])

    def theirs(b, losses):
        total = 0.0
        for _, tokens, mask in b["micros"]:
            out = hf(input_ids=tokens, labels=tokens.masked_fill(~mask, -100), num_items_in_batch=b["targets"])
            out.loss.backward()
            total += out.loss.item()
        losses.append(total)

    fns, times, peaks, losses = {"ours": ours, "peft": theirs}, {"ours": [], "peft": []}, {"ours": [], "peft": []}, {"ours": [], "peft": []}
    for s, b in enumerate(batches):
        for k in ("ours", "peft") if s % 2 == 0 else ("peft", "ours"):
            dt, peak = timed(lambda: (fns[k](b, losses[k]), opt[k].step(), opt[k].zero_grad(set_to_none=True)))
            if s:  # the first step pays one-time costs (optimizer state, allocator)
                times[k].append(dt)
                peaks[k].append(peak)
    diff = max(abs(x - y) for x, y in zip(losses["ours"], losses["peft"]))
    print(f"losses ours {[round(x, 4) for x in losses['ours']]}\n      peft {[round(x, 4) for x in losses['peft']]} "
          f"(max difference {diff:.1e}: the same computation)")
    assert diff < 1e-3, "ours and transformers+PEFT disagree: not the same training"
    targets = sum(b["targets"] for b in batches[1:])
    padded = sum(b["padded"] for b in batches[1:])
    res, mem = {}, {k: weight_bytes[k] + max(peaks[k]) for k in times}
    for k in ("ours", "peft"):
        t = sum(times[k])
        res[f"{k}_target_tok_s"], res[f"{k}_peak_gb"] = round(targets / t, 2), round(mem[k] / 1e9, 3)
        print(f"{k:5s} {t / len(times[k]):6.2f} s/step (steps {[round(x, 2) for x in times[k]]}) {targets / t:7.2f} target tokens/s, "
              f"{padded / t:7.1f} tokens/s; peak {mem[k] / 1e9:.3f} GB = weights {weight_bytes[k] / 1e9:.3f} + step {max(peaks[k]) / 1e9:.3f}")
    res["speed_ratio"] = round(sum(times["peft"]) / sum(times["ours"]), 3)
    res["memory_ratio"] = round(mem["peft"] / mem["ours"], 3)
    res["step_memory_ratio"] = round(max(peaks["peft"]) / max(peaks["ours"]), 3)
    print(f"ours / transformers+PEFT: {res['speed_ratio']:.3f}x tokens/s (goal >= 1.3), peak memory "
          f"{1 / res['memory_ratio']:.3f}x theirs (step part alone {1 / res['step_memory_ratio']:.3f}x)")
    return res


# ----------------------------------------------------------------------------- (vocab)


def bench_vocab(a, common):
    args, batches, _, _ = step_batches(common + ["--mode", "mt_lora"], a.steps)
    params = json.loads((Path(args.ckpt_dir) / "params.json").read_text())
    torch.manual_seed(0)
    model = Transformer(ModelArgs(**{**params, "vocab_size": LLAMA3_VOCAB}, max_seq_len=args.max_len))
    lora.inject(model, "plain", tuple(args.targets.split(",")), args.rank, alpha=args.alpha, n_tasks=1)

    def full_logits(tokens, mask):  # what a model without output_mask must do
        target = mask[:, 1:]
        logits = model(tokens[:, :-1])  # (B, T, vocab)
        return F.cross_entropy(logits[target], tokens[:, 1:][target], reduction="sum")

    fns = {"output_mask": train.lm_loss_sum, "full_logits": full_logits}
    times, peaks = {k: [] for k in fns}, {k: [] for k in fns}
    for s, b in enumerate(batches):
        for k in fns if s % 2 == 0 else list(fns)[::-1]:
            dt, peak = timed(lambda: [(fns[k](model, x, m) if k == "output_mask" else fns[k](x, m)).backward()
                                      for _, x, m in b["micros"]])
            if s:
                times[k].append(dt)
                peaks[k].append(peak)
    res = {}
    for k in fns:
        print(f"vocab {LLAMA3_VOCAB} {k:11s}: fwd+bwd {statistics.median(times[k]):.2f} s/step (median of "
              f"{[round(x, 2) for x in times[k]]}), peak rise {max(peaks[k]) / 1e9:.3f} GB")
    res["vocab_speedup"] = round(sum(times["full_logits"]) / sum(times["output_mask"]), 3)
    res["vocab_memory_ratio"] = round(max(peaks["full_logits"]) / max(peaks["output_mask"]), 3)
    print(f"output_mask at vocab {LLAMA3_VOCAB}: {res['vocab_speedup']:.3f}x faster, "
          f"{res['vocab_memory_ratio']:.2f}x less peak memory rise than full logits")
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt_dir", default=str(ROOT / "checkpoints" / "smollm2-135m"))
    p.add_argument("--data_dir", default=None, help="SNI layout; default: the built-in tasks")
    p.add_argument("--steps", type=int, default=4, help="steps 0..steps-1, step 0 a warm-up")
    p.add_argument("--pad_steps", type=int, default=50, help="(pack) steps over which padding is counted")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: pack, peft, vocab")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("extra", nargs="*", help="more train.py flags, after --")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    common = ["--ckpt_dir", a.ckpt_dir, *(["--data_dir", a.data_dir] if a.data_dir else []), *a.extra]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.ckpt_dir}, data {a.data_dir or 'built-in'}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    res = {}
    for part, fn in (("pack", bench_pack), ("peft", bench_peft), ("vocab", bench_vocab)):
        if part not in a.skip.split(","):
            print(f"== {part}")
            res.update(fn(a, common))
    print(json.dumps({**res, "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()
