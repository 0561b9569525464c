"""Train the hypernetwork end to end through the frozen Llama 3, or the LoRA baselines.

    # 8 GPUs, Meta's Llama 3 8B download, a clone of github.com/allenai/natural-instructions
    torchrun --nproc_per_node=8 train.py --ckpt_dir ~/Meta-Llama-3-8B --data_dir ~/natural-instructions \\
        --out_dir runs/hyperlora-8b --tasks_per_step 16 --examples_per_task 8 --max_steps 10000

    # the baselines, same data and step budget: one LoRA per seen task, or one shared by all tasks
    torchrun --nproc_per_node=8 train.py ... --mode lora --out_dir runs/lora-8b
    torchrun --nproc_per_node=8 train.py ... --mode mt_lora --out_dir runs/mt_lora-8b

    # this laptop-class CPU: the demo model (make demo-ckpt) on the built-in tasks
    python train.py --ckpt_dir checkpoints/smollm2-135m --out_dir runs/demo --max_steps 60

Every step: sample tasks_per_step tasks x examples_per_task instances (a pure function of seed and
step, split across ranks), write each task's adapter from its instruction with the hypernetwork
(or take the trained LoRA), run the frozen model on the prompts, and take the language-modelling
loss on the target tokens only, normalised by the number of target tokens across all ranks.
Only the trainable module is wrapped in DDP; the frozen base model is replicated on every rank
(bf16 on GPU, fp32 on CPU) and passed to it as an argument, so DDP neither broadcasts nor
buckets its weights.

A run directory holds metrics.jsonl and checkpoints step_NNNNNN/ with trainable.safetensors,
optimizer.pt and state.json (full run config, step). --mode lora writes one such run per task
under lora/<task name>/. --resume continues from the latest complete checkpoint exactly: data
order is a function of the step, and nothing else in a step is random.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel as DDP

import data
import lora
from hypernet import HyperNetConfig, HyperNetwork, adapter_diagnostics, latest_checkpoint
from model import Tokenizer, generate, load_model


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("run")
    g.add_argument("--ckpt_dir", required=True, help="Meta-layout base model: params.json, consolidated.00.pth, tokenizer.model")
    g.add_argument("--data_dir", default=None, help="SNI layout (tasks/, splits/); default: the built-in tasks")
    g.add_argument("--split", default="default", help="splits/<split>/{train,test}_tasks.txt")
    g.add_argument("--out_dir", default="runs/hyperlora", help="checkpoints and metrics.jsonl")
    g.add_argument("--mode", choices=["hypernet", "lora", "mt_lora"], default="hypernet",
                   help="hypernet: the hypernetwork; lora: one plain LoRA per seen task; mt_lora: one LoRA for all tasks")
    g.add_argument("--tasks", default=None, help="train on these seen tasks only: a count (the first N) or comma-separated names")
    g.add_argument("--english_only", action="store_true", help="drop tasks whose input or output language is not English")
    g.add_argument("--n_heldout", type=int, default=100, help="held-out instances per seen task, never trained on")
    g.add_argument("--max_train_instances", type=int, default=None, help="cap train instances per task (Tk-Instruct used 100)")
    g.add_argument("--seed", type=int, default=0, help="sampling, initialisation")
    g.add_argument("--data_seed", type=int, default=0, help="held-out selection and built-in tasks; keep it fixed across runs")
    g = p.add_argument_group("batch")
    g.add_argument("--tasks_per_step", type=int, default=4, help="tasks in the global batch (mode lora: 1)")
    g.add_argument("--examples_per_task", type=int, default=4, help="instances per task in the global batch")
    g.add_argument("--grad_accum", type=int, default=1, help="global batches accumulated per optimizer step")
    g.add_argument("--micro_batch_size", type=int, default=16, help="max examples per forward pass")
    g.add_argument("--micro_batch_tokens", type=int, default=1024, help="max padded tokens (rows x longest) per forward pass, "
                   "a longer example goes alone (0: no limit; --pack 1 only)")
    g.add_argument("--pack", type=int, choices=[0, 1], default=1,
                   help="1: tasks share micro-batches, rows grouped by length; 0: one task per micro-batch")
    g.add_argument("--n_shot", type=int, default=0, help="positive examples in each prompt")
    g.add_argument("--max_len", type=int, default=512, help="max tokens per example; the input is cut, never the target")
    g = p.add_argument_group("optimisation")
    g.add_argument("--max_steps", type=int, default=200, help="optimizer steps (per task in mode lora)")
    g.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    g.add_argument("--min_lr_ratio", type=float, default=0.1, help="cosine decay ends at lr * this")
    g.add_argument("--warmup_steps", type=int, default=10)
    g.add_argument("--weight_decay", type=float, default=0.0)
    g.add_argument("--grad_clip", type=float, default=1.0, help="max global gradient norm (0: off)")
    g.add_argument("--max_bad_steps", type=int, default=5, help="abort after this many non-finite losses in a row")
    g = p.add_argument_group("adapter and hypernetwork (lora modes use kind=plain with the same rank)")
    g.add_argument("--kind", choices=["lightweight", "plain"], default="lightweight", help="hypernetwork output")
    g.add_argument("--targets", default=",".join(lora.TARGETS), help="target modules")
    g.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    g.add_argument("--lora_a", type=int, default=64, help="lightweight LoRA: inner size a of A_train (r, a)")
    g.add_argument("--lora_b", type=int, default=64, help="lightweight LoRA: inner size b of B_train (b, r)")
    g.add_argument("--alpha", type=float, default=16.0, help="scale s = alpha / r")
    g.add_argument("--d_h", type=int, default=512, help="hypernetwork width")
    g.add_argument("--hn_layers", type=int, default=2, help="hypernetwork decoder layers")
    g.add_argument("--iterations", type=int, default=2, help="K refinement passes")
    g.add_argument("--no_module_emb", action="store_true", help="ablation: no layer/type embeddings")
    g.add_argument("--task_examples", type=int, default=0, help="positive examples added to the hypernetwork's task text")
    g = p.add_argument_group("logging and checkpoints")
    g.add_argument("--log_every", type=int, default=1)
    g.add_argument("--eval_every", type=int, default=50, help="validation loss on held-out instances (0: off)")
    g.add_argument("--val_per_task", type=int, default=4, help="held-out instances per task in the validation loss")
    g.add_argument("--save_every", type=int, default=50, help="checkpoint every N steps (and at the end)")
    g.add_argument("--keep_last", type=int, default=2, help="checkpoints kept")
    g.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in out_dir")
    g.add_argument("--samples", type=int, default=0, help="at the end, print this many generations on held-out instances")
    g.add_argument("--activation_checkpointing", action="store_true", help="recompute base layers in backward (GPU, long sequences)")
    g.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK if available, else cpu")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- the trainable part


def lm_loss_sum(model, tokens, mask):
    """Summed next-token cross-entropy over target tokens. tokens, mask: (B, T); mask marks targets."""
    target = mask[:, 1:]
    logits = model(tokens[:, :-1], output_mask=target)  # (N, vocab): only target positions reach the head
    return F.cross_entropy(logits, tokens[:, 1:][target], reduction="sum")


class LoRATrainee(nn.Module):
    """What DDP wraps in lora / mt_lora mode: the adapter parameters owned by the injected model.
    (In hypernet mode DDP wraps the HyperNetwork itself.) The frozen model comes in as an argument,
    not a submodule, so DDP neither broadcasts nor buckets its weights."""

    def __init__(self, model):
        super().__init__()
        self.params = nn.ParameterList(lora.lora_parameters(model))  # the same tensors, registered twice
        self.model_ref = [model]  # a list, so the model is not a submodule

    def forward(self, model, tokens, mask):
        return lm_loss_sum(model, tokens, mask)


def trainable_state(trainee):
    if isinstance(trainee, LoRATrainee):
        return lora.lora_state_dict(trainee.model_ref[0])["state"]
    return trainee.state_dict()


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(out_dir: Path, step: int, trainee, optimizer, config: dict, keep_last: int):
    """Write step_NNNNNN/ under a temporary name and rename it: a crash mid-write leaves the last
    good checkpoint the latest, and --resume ignores the leftover .tmp directory."""
    final, tmp = out_dir / f"step_{step:06d}", out_dir / f".tmp_step_{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().contiguous().cpu() for k, v in trainable_state(trainee).items()}
    save_file(state, tmp / "trainable.safetensors")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    # data position: batches are a pure function of (seed, batch index), so the next index is all there is
    position = {"next_batch": step * config["grad_accum"], "seed": config["seed"]}
    (tmp / "state.json").write_text(json.dumps({"step": step, "data_position": position, "config": config}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(out_dir.glob("step_*"))[:-keep_last]:
        shutil.rmtree(old)


def load_checkpoint(ckpt: Path, trainee, optimizer):
    state = load_file(ckpt / "trainable.safetensors")
    if isinstance(trainee, LoRATrainee):
        model = trainee.model_ref[0]
        lora.load_lora_state_dict(model, {"config": lora.lora_config(model), "state": state})
    else:
        trainee.load_state_dict(state)
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=True))
    return json.loads((ckpt / "state.json").read_text())["step"]


# ----------------------------------------------------------------------------- helpers


def get_lr(step, args):
    """Linear warm-up, then cosine decay to lr * min_lr_ratio at max_steps."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    progress = (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def length_groups(lengths, max_rows, max_tokens):
    """Cut rows sorted by decreasing length into contiguous groups of at most max_rows rows and
    max_tokens padded tokens (rows x longest; 0: no limit; a row over it goes alone): the fewest
    groups, and among those the least padding (dynamic programming). Returns [(start, end)]."""
    n = len(lengths)
    best, cut = [(0, 0)] + [None] * n, [0] * (n + 1)  # best[j]: (groups, padded tokens) for rows [0, j)
    for j in range(1, n + 1):
        for i in range(max(0, j - max_rows), j):
            if max_tokens and (j - i) * lengths[i] > max_tokens and j - i > 1:
                continue
            c = (best[i][0] + 1, best[i][1] + (j - i) * lengths[i])
            if best[j] is None or c < best[j]:
                best[j], cut[j] = c, i
    bounds, j = [], n
    while j:
        bounds.append((cut[j], j))
        j = cut[j]
    return bounds[::-1]


def micro_batches(items, tokenizer, tasks, args):
    """[(task_idx, Instance)] -> [(row_tasks, tokens, mask)] with row_tasks[i] the task of row i.

    --pack 1: rows of any tasks share a micro-batch (each row gets its own task's adapter), sorted by
    length and cut by length_groups to cut padding. --pack 0: one task per micro-batch of at most
    micro_batch_size rows, in the items' order. Either way the summed loss over all micro-batches is
    the same function of the data: padding sits after the real tokens, under the causal mask."""
    enc = [data.encode_example(tokenizer, tasks[t], inst, args.n_shot, args.max_len) for t, inst in items]
    truncated = sum(e.truncated for e in enc)
    rows = [t for t, _ in items]
    if args.pack:
        order = sorted(range(len(items)), key=lambda i: -len(enc[i].tokens))  # stable: ties keep item order
        bounds = length_groups([len(enc[i].tokens) for i in order], args.micro_batch_size, args.micro_batch_tokens)
    else:
        order, bounds, i = list(range(len(items))), [], 0
        while i < len(items):
            j = i + 1
            while j < len(items) and rows[j] == rows[i] and j - i < args.micro_batch_size:
                j += 1
            bounds.append((i, j))
            i = j
    return [([rows[k] for k in order[i:j]], *data.collate([enc[k] for k in order[i:j]], tokenizer.pad_id))
            for i, j in bounds], truncated


def set_task_adapters(model, hn, W, row_tasks):
    """Adapters for one micro-batch from W (n, M, P), the hypernetwork's output for n tasks:
    batch row i uses W[row_tasks[i]]. One task broadcasts; several go through lora's row_index."""
    ids = sorted(set(row_tasks))
    if len(ids) == 1:
        lora.set_weights(model, hn.adapters(W[ids[0]][None]))
    else:  # only the micro-batch's tasks are folded into full-size adapters
        row_index = torch.tensor([ids.index(t) for t in row_tasks], device=W.device)
        lora.set_weights(model, hn.adapters(W[ids]), row_index)


def forward_backward(model, runner, trainee, codes, micros, scale, device, ddp):
    """Forward and backward over one step's micro-batches [(row_tasks, tokens, mask)], gradients of
    scale * (summed target-token loss) accumulated into the trainable parameters. Returns the
    summed loss (fp64). runner is trainee, or trainee wrapped in DDP; codes is None in lora modes."""
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    if codes is not None:
        # One hypernetwork pass per step for this rank's tasks. The micro-batches backpropagate
        # into a detached copy W_in of its output, then W.backward(W_in.grad) finishes the chain
        # rule through the hypernetwork once (and DDP all-reduces its gradients there).
        ids = sorted({t for row_tasks, _, _ in micros for t in row_tasks})
        W = runner(codes[ids])  # (n, M, P)
        W_in = W.detach().requires_grad_()
    for i, (row_tasks, tokens, mask) in enumerate(micros):
        tokens, mask = tokens.to(device), mask.to(device)
        if codes is not None:
            set_task_adapters(model, trainee, W_in, [ids.index(t) for t in row_tasks])  # kept through backward
            loss = lm_loss_sum(model, tokens, mask)
            (loss * scale).backward()
        else:
            with runner.no_sync() if ddp and i < len(micros) - 1 else nullcontext():
                loss = runner(model, tokens, mask)
                (loss * scale).backward()
        loss_sum += loss.detach()
    if codes is not None:
        lora.clear_weights(model)
        W.backward(W_in.grad)
    return loss_sum


def all_reduce(x: torch.Tensor, ddp: bool) -> torch.Tensor:
    if ddp:
        dist.all_reduce(x)
    return x


def select_tasks(seen, spec):
    if spec is None:
        return seen
    if spec.isdigit():
        return seen[: int(spec)]
    by_name = {t.name: t for t in seen}
    missing = [n for n in spec.split(",") if n not in by_name]
    if missing:
        raise ValueError(f"--tasks: {missing} are not seen tasks of this split")
    return [by_name[n] for n in spec.split(",")]


# ----------------------------------------------------------------------------- training loop


def train(args, model, tokenizer, tasks, trainee, codes, out_dir: Path, env, config):
    """The explicit loop: one run of max_steps optimizer steps over `tasks`, checkpointed in out_dir."""
    rank, world, ddp, device, master = env
    log = print if master else (lambda *a, **k: None)
    hypernet = codes is not None  # trainee is the HyperNetwork; else a LoRATrainee
    params = [p for p in trainee.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=args.weight_decay)
    start = 0
    ckpt = latest_checkpoint(out_dir) if args.resume else None
    if ckpt is not None:
        start = load_checkpoint(ckpt, trainee, optimizer)
        log(f"resumed from {ckpt} at step {start}")
    if start >= args.max_steps:
        return
    runner = DDP(trainee) if ddp else trainee
    metrics_path = out_dir / "metrics.jsonl"
    if master:
        out_dir.mkdir(parents=True, exist_ok=True)
        # on resume, drop what the interrupted run logged after its checkpoint
        old = metrics_path.read_text().splitlines() if metrics_path.exists() and start else []
        metrics_path.write_text("".join(l + "\n" for l in old if json.loads(l)["step"] < start))
    val_items = data.shard(data.heldout_items(tasks, args.val_per_task), rank, world)
    n_params = sum(p.numel() for p in params)
    log(f"{out_dir}: {len(tasks)} tasks, {n_params:,} trainable parameters, steps {start}..{args.max_steps}, "
        f"global batch {args.grad_accum} x {min(args.tasks_per_step, len(tasks))} tasks x {args.examples_per_task}, world {world}")

    bad_steps, times = 0, []
    for step in range(start, args.max_steps):
        t0 = time.perf_counter()
        lr = get_lr(step, args)
        for g in optimizer.param_groups:
            g["lr"] = lr

        # this rank's part of the global batch, then the global target count for the normaliser
        micros, truncated = [], 0
        for k in range(args.grad_accum):
            batch = data.sample_batch(tasks, step * args.grad_accum + k, seed=args.seed,
                                      tasks_per_step=min(args.tasks_per_step, len(tasks)),
                                      examples_per_task=args.examples_per_task)
            mb, tr = micro_batches(data.shard(batch, rank, world), tokenizer, tasks, args)
            micros += mb
            truncated += tr
        counts = torch.tensor([sum(m[:, 1:].sum().item() for _, _, m in micros),
                               sum(x.numel() for _, x, _ in micros), truncated], dtype=torch.float64, device=device)
        n_targets, n_tokens, truncated = all_reduce(counts, ddp).tolist()

        # DDP averages gradients over ranks: each loss is scaled by world / (all ranks' targets),
        # which makes the update the global mean over target tokens whatever the number of ranks
        scale = world / n_targets
        loss_sum = forward_backward(model, runner, trainee, codes, micros, scale, device, ddp)
        loss = all_reduce(loss_sum, ddp).item() / n_targets

        if not math.isfinite(loss):
            optimizer.zero_grad(set_to_none=True)
            bad_steps += 1
            log(f"step {step}: non-finite loss {loss}, step skipped ({bad_steps} in a row)")
            if master:
                with open(metrics_path, "a") as f:
                    f.write(json.dumps({"step": step, "loss": None, "skipped": "non-finite loss", "lr": lr}) + "\n")
            if bad_steps >= args.max_bad_steps:
                raise RuntimeError(f"{bad_steps} non-finite losses in a row at step {step}; aborting (lower --lr?)")
            continue
        bad_steps = 0
        grad_norm = torch.nn.utils.clip_grad_norm_(params, args.grad_clip if args.grad_clip > 0 else float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        times.append(time.perf_counter() - t0)
        record = {"step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm.item(), "tokens_per_s": n_tokens / times[-1]}
        if truncated:
            record["truncated"] = int(truncated)
        if hypernet and (step % args.log_every == 0 or step == args.max_steps - 1) and len(codes) > 1:
            with torch.no_grad():
                d = adapter_diagnostics(trainee.adapters(trainee(codes[:64])))
            record["adapter_cos"], record["task_share"] = d["cos"], d["task_share"]
        if args.eval_every and ((step + 1) % args.eval_every == 0 or step == args.max_steps - 1):
            record["val_loss"] = validation_loss(model, tokenizer, tasks, trainee, codes, val_items, args, env)
        if master:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        if step % args.log_every == 0 or step == args.max_steps - 1 or "val_loss" in record:
            eta = sorted(times)[len(times) // 2] * (args.max_steps - step - 1)
            extra = "".join(f" | {k} {record[k]:.4f}" for k in ("val_loss", "adapter_cos", "task_share") if k in record)
            log(f"step {step:5d} | loss {loss:.4f} | lr {lr:.2e} | {record['tokens_per_s']:,.0f} tok/s | "
                f"eta {eta / 60:.1f} min{extra}")
        if (step + 1) % args.save_every == 0 or step == args.max_steps - 1:
            if master:
                save_checkpoint(out_dir, step + 1, trainee, optimizer, config, args.keep_last)
            if ddp:
                dist.barrier()


@torch.no_grad()
def validation_loss(model, tokenizer, tasks, trainee, codes, items, args, env):
    """Mean target-token loss on this rank's share of the held-out instances, reduced over ranks."""
    rank, world, ddp, device, master = env
    total = torch.zeros(2, dtype=torch.float64, device=device)
    for row_tasks, tokens, mask in micro_batches(items, tokenizer, tasks, args)[0]:
        if codes is not None:
            ids = sorted(set(row_tasks))
            set_task_adapters(model, trainee, trainee(codes[ids]), [ids.index(t) for t in row_tasks])
        total[0] += lm_loss_sum(model, tokens.to(device), mask.to(device))
        total[1] += mask[:, 1:].sum()
        lora.clear_weights(model) if codes is not None else None
    total = all_reduce(total, ddp)
    return (total[0] / total[1]).item()


@torch.no_grad()
def show_samples(model, tokenizer, tasks, hn, codes, args, heading):
    """Greedy answers on held-out instances, without and with the task's adapter."""
    print(heading)
    for t, task in enumerate(tasks[: args.samples]):
        inst = task.heldout[0]
        prompt, _ = data.encode_prompt(tokenizer, task, inst, args.n_shot, args.max_len, reserve=32)
        with lora.disabled(model):
            base = generate(model, tokenizer, [prompt], 32)[0]
        if hn is not None:
            lora.set_weights(model, hn.adapters(hn(codes[t:t + 1])))
        adapted = generate(model, tokenizer, [prompt], 32)[0]
        lora.clear_weights(model) if hn is not None else None
        print(f"  {task.name}: {inst.input[:60]!r}\n    reference {inst.outputs[0]!r} | base {base.strip()!r} | adapted {adapted.strip()!r}")


def main(argv=None):
    args = get_args(argv)

    # --- distributed setup from torchrun's environment; plain `python train.py` is one process
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    ddp = world > 1
    device = args.device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    elif ddp:  # CPU processes share the cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    if ddp:
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    master = rank == 0
    env = (rank, world, ddp, device, master)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32  # these CPUs have no bf16 units
    out_dir = Path(args.out_dir)

    try:
        # --- frozen base model and tokenizer
        model = load_model(args.ckpt_dir, device=device, dtype=dtype, max_seq_len=args.max_len)
        model.requires_grad_(False)
        model.gradient_checkpointing = args.activation_checkpointing
        tokenizer = Tokenizer(Path(args.ckpt_dir) / "tokenizer.model")

        # --- data: seen tasks train, their held-out instances validate
        taskset = data.load_tasks(args.data_dir, split=args.split, english_only=args.english_only,
                                  n_heldout=args.n_heldout, seed=args.data_seed,
                                  max_train_instances=args.max_train_instances, log=print if master else None)
        tasks = select_tasks(taskset.seen, args.tasks)
        if args.tasks_per_step * args.examples_per_task < world:
            raise ValueError(f"global batch {args.tasks_per_step}x{args.examples_per_task} is smaller than world size {world}")
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")

    targets = tuple(args.targets.split(","))
    hn_cfg = HyperNetConfig(kind=args.kind, targets=targets, rank=args.rank, a=args.lora_a, b=args.lora_b,
                            alpha=args.alpha, seed=args.seed, d_h=args.d_h, n_layers=args.hn_layers,
                            iterations=args.iterations, module_emb=not args.no_module_emb)
    config = {**vars(args), "ckpt_dir": str(Path(args.ckpt_dir).resolve()), "world_size": world,
              "tasks": [t.name for t in tasks], "hypernet_config": asdict(hn_cfg), "data_summary": taskset.summary}
    if master:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(config, indent=1))

    torch.manual_seed(args.seed)
    if args.mode == "hypernet":
        hn = HyperNetwork(hn_cfg, model.args).to(device)
        hn.inject(model)
        texts = [data.task_text(t, args.task_examples) for t in tasks]
        codes = hn.fit_task_stats(model, tokenizer, texts)  # (n_tasks, dim), cached; stats are checkpointed
        train(args, model, tokenizer, tasks, hn, codes, out_dir, env, config)
        if master and args.samples:
            unseen = taskset.unseen
            show_samples(model, tokenizer, unseen, hn, hn.encode_tasks(model, tokenizer, [data.task_text(t, args.task_examples) for t in unseen]),
                         args, "unseen tasks (no training on them):")
    elif args.mode == "mt_lora":
        lora.inject(model, "plain", targets, args.rank, alpha=args.alpha, seed=args.seed, n_tasks=1)
        train(args, model, tokenizer, tasks, LoRATrainee(model), None, out_dir, env, config)
        if master and args.samples:
            show_samples(model, tokenizer, tasks, None, None, args, "seen tasks, held-out instances:")
    else:  # one LoRA per task, trained one after the other with the same budget; a finished task is skipped
        lora.inject(model, "plain", targets, args.rank, alpha=args.alpha, seed=args.seed, n_tasks=1)
        for t, task in enumerate(tasks):
            torch.manual_seed(args.seed * 100003 + t)
            for _, m in lora.lora_modules(model):
                m.init_bank(1)  # a fresh adapter and (in train) a fresh optimizer per task
            train(args, model, tokenizer, [task], LoRATrainee(model), None, out_dir / "lora" / task.name, env,
                  {**config, "tasks": [task.name]})
    if ddp:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
