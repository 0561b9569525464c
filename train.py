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
loss on the target tokens only, normalised by the number of target tokens across all ranks
(--loss_weight instance: the mean over instances of each instance's mean target loss).
Only the trainable module is wrapped in DDP; the frozen base model is replicated on every rank
(bf16 on GPU, fp32 on CPU) and passed to it as an argument, so DDP neither broadcasts nor
buckets its weights.

A run directory holds config.json, metrics.jsonl (one record per step, with wall-clock time and
elapsed seconds), samples.txt (--samples) and checkpoints step_NNNNNN/ with trainable.safetensors,
optimizer.pt and state.json (full run config, step). --mode lora writes one such run per task
under lora/<task name>/. --resume continues from the latest complete checkpoint exactly: data
order is a function of the step, and nothing else in a step is random; it refuses flags that would
change the result (RESULT_FLAGS). A directory holding a run is never reused without --resume, or
--overwrite, which moves it aside. Flag values are checked, and the model and data loaded, before
anything is written. See docs/DESIGN.md for the formats.
"""

import argparse
import gc
import json
import math
import os
import random
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel as DDP

import data
import lora
from hypernet import HyperNetConfig, HyperNetwork, adapter_diagnostics, find_checkpoint, latest_checkpoint
from model import Tokenizer, generate, load_model


def get_parser():
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
    g.add_argument("--loss_weight", choices=("token", "instance"), default="token",
                   help="token: the mean over the batch's target tokens (a long answer weighs more); instance: the "
                   "mean over instances of each one's mean target loss (as ROUGE-L averages over instances)")
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
    g.add_argument("--iterations", type=int, default=2, help="K refinement passes (0: no decoder, with --direct_rank: "
                   "a linear hypernetwork, adapter = S + (C e) U)")
    g.add_argument("--no_module_emb", action="store_true", help="ablation: no layer/type embeddings")
    g.add_argument("--direct_rank", type=int, default=0, help="k > 0: add a direct path from the task code to the "
                   "adapter, W += (C e) U with U (k, modules, numbers) from zero: a low-rank bank the text indexes")
    g.add_argument("--pooling", choices=("mean", "last"), default="mean",
                   help="task code: mean of the task text's final hidden states, or the last token's")
    g.add_argument("--task_code", choices=("text", "id", "table"), default="text",
                   help="diagnostics: 'id' learns a code per training task instead of reading its text, 'table' "
                        "learns each task's adapter itself (no decoder); unseen tasks get the mean (hypernet.py)")
    g.add_argument("--table_init", choices=("each", "same"), default="each",
                   help="--task_code table: each task's A starts as its own random draw (separate LoRAs), or all at "
                        "the same one (the hypernetwork's start: tasks then differ in B, in one basis)")
    g.add_argument("--task_examples", type=int, default=0, help="positive examples added to the hypernetwork's task text")
    g.add_argument("--floor", default=None, help="a --mode mt_lora run (or step) dir: its LoRA becomes the frozen floor "
                   "under every generated adapter, which then learns only the task-dependent residual")
    g.add_argument("--floor_trainable", action="store_true", help="with --floor: the floor goes on training with "
                   "the hypernetwork at --lr (the mt_lora continued, the residual on top), instead of staying frozen")
    g.add_argument("--init_from", default=None, help="modes lora, mt_lora: the LoRA (each task's, or the shared one) "
                   "starts from this --mode mt_lora run (or step) dir instead of B = 0, e.g. the multi-task LoRA "
                   "fine-tuned on each task; --mode hypernet: the hypernetwork starts as this hypernet run's (the "
                   "same configuration, e.g. scripts/distil.py's output), with a fresh optimizer at step 0")
    g.add_argument("--def_dropout", type=float, default=0.0, help="fraction of training prompts without the definition "
                   "(1: adapter only, the adapter is the only carrier of the task)")
    g.add_argument("--task_lr_mult", type=float, default=1.0, help="hypernet: lr multiplier for every parameter but the "
                   "task-independent S and head bias (the path through which the task code acts)")
    g.add_argument("--code_dropout", type=float, default=0.0, help="hypernet: in training, zero this fraction of the "
                   "normalised task code's coordinates (a fresh draw each step)")
    g.add_argument("--code_noise", type=float, default=0.0, help="hypernet: in training, add Gaussian noise of this std "
                   "to the normalised task code (unit RMS; a fresh draw each step)")
    g = p.add_argument_group("logging and checkpoints")
    g.add_argument("--log_every", type=int, default=1)
    g.add_argument("--eval_every", type=int, default=50, help="validation loss on held-out instances (0: off)")
    g.add_argument("--val_per_task", type=int, default=4, help="held-out instances per task in the validation loss")
    g.add_argument("--save_every", type=int, default=50, help="checkpoint every N steps (and at the end)")
    g.add_argument("--keep_last", type=int, default=2, help="checkpoints kept")
    g.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in out_dir (same result flags)")
    g.add_argument("--overwrite", action="store_true", help="start afresh in an out_dir that holds a run: moves it to <out_dir>.old-<time>")
    g.add_argument("--skip_bad_tasks", action="store_true", help="warn about and skip corrupt or empty task files instead of stopping")
    g.add_argument("--samples", type=int, default=0, help="at the end, print this many generations on held-out instances")
    g.add_argument("--activation_checkpointing", action="store_true", help="recompute base layers in backward (GPU, long sequences)")
    g.add_argument("--device", default=None, help="default: cuda:LOCAL_RANK if available, else cpu")
    return p


def get_args(argv=None):
    args = get_parser().parse_args(argv)
    problems = check_args(args)
    if problems:
        fail("; ".join(problems), code=2)
    return args


# Flags that change what a run computes: --resume refuses to continue a run saved with other values
# (the resolved task list is compared too). Every other flag is in RESUME_FREE_FLAGS; a new flag goes
# in exactly one of the two (tests/test_train.py checks).
RESULT_FLAGS = ("ckpt_dir", "data_dir", "split", "mode", "tasks", "english_only", "n_heldout", "max_train_instances",
                "seed", "data_seed", "tasks_per_step", "examples_per_task", "grad_accum", "n_shot", "max_len",
                "lr", "min_lr_ratio", "warmup_steps", "weight_decay", "loss_weight", "grad_clip", "kind", "targets", "rank",
                "lora_a", "lora_b", "alpha", "d_h", "hn_layers", "iterations", "no_module_emb", "direct_rank", "pooling",
                "task_examples", "task_code", "table_init", "val_per_task", "floor", "floor_trainable", "init_from",
                "def_dropout", "task_lr_mult", "code_dropout", "code_noise")
# May differ on --resume: cadence, output, hardware; micro-batching (micro_batch_size, micro_batch_tokens,
# pack) and activation_checkpointing change only float rounding; max_steps extends a run (the lr
# schedule is then stretched, main() says how).
RESUME_FREE_FLAGS = ("out_dir", "max_steps", "micro_batch_size", "micro_batch_tokens", "pack", "max_bad_steps",
                     "log_every", "eval_every",
                     "save_every", "keep_last", "resume", "overwrite", "skip_bad_tasks", "samples",
                     "activation_checkpointing", "device")

# (flags, test, what is expected): checked before anything is loaded or written
ARG_RULES = [
    (("max_steps", "tasks_per_step", "examples_per_task", "grad_accum", "micro_batch_size", "max_len", "rank",
      "lora_a", "lora_b", "d_h", "hn_layers", "log_every", "save_every", "keep_last",
      "max_bad_steps", "val_per_task"), lambda v: v >= 1, "an integer >= 1"),
    (("n_heldout", "warmup_steps", "eval_every", "samples", "n_shot", "task_examples", "micro_batch_tokens",
      "direct_rank", "iterations"),
     lambda v: v >= 0, "an integer >= 0"),
    (("max_train_instances",), lambda v: v is None or v >= 1, "an integer >= 1"),
    (("lr", "alpha", "task_lr_mult"), lambda v: math.isfinite(v) and v > 0, "a number > 0"),
    (("weight_decay", "grad_clip", "code_noise"), lambda v: math.isfinite(v) and v >= 0, "a number >= 0"),
    (("min_lr_ratio", "def_dropout"), lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    (("code_dropout",), lambda v: 0 <= v < 1, "a number in [0, 1)"),
]


def check_args(args):
    """Problems with the flag values, one short phrase each (empty: all good)."""
    problems = [f"--{k} {getattr(args, k)}: expected {want}"
                for keys, ok, want in ARG_RULES for k in keys if not ok(getattr(args, k))]
    unknown = [t for t in args.targets.split(",") if t not in lora.TARGETS]
    if unknown:
        problems.append(f"--targets {args.targets}: unknown {unknown}, expected a comma-separated subset of {','.join(lora.TARGETS)}")
    if args.d_h >= 1 and args.d_h % HyperNetConfig.n_heads:
        problems.append(f"--d_h {args.d_h}: expected a multiple of {HyperNetConfig.n_heads} (the decoder's heads)")
    if args.eval_every and args.n_heldout == 0:
        problems.append("--eval_every needs held-out instances: --n_heldout 0 leaves none (or set --eval_every 0)")
    if args.mode != "hypernet" and (args.code_dropout or args.code_noise):
        problems.append(f"--code_dropout / --code_noise act on the hypernetwork's task code: --mode {args.mode} has none")
    if args.task_code != "text" and args.mode != "hypernet":
        problems.append(f"--task_code {args.task_code} is the hypernetwork's: --mode {args.mode} has none")
    elif args.direct_rank and args.mode != "hypernet":
        problems.append(f"--direct_rank is the hypernetwork's: --mode {args.mode} has none")
    elif args.direct_rank and args.task_code == "table":
        problems.append("--direct_rank is a path from the task code: --task_code table has none")
    elif args.table_init != "each" and args.task_code != "table":
        problems.append(f"--table_init is the bank's (--task_code table), not --task_code {args.task_code}'s")
    elif args.task_code != "text" and (args.code_dropout or args.code_noise or args.task_examples):
        problems.append(f"--code_dropout / --code_noise / --task_examples act on the task's text: --task_code "
                        f"{args.task_code} reads none")
    if args.iterations == 0 and not (args.mode == "hypernet" and args.direct_rank and args.task_code != "table"):
        problems.append("--iterations 0 (no decoder) needs --mode hypernet with --direct_rank k > 0: the direct path "
                        "is then the only way the task enters")
    if args.floor_trainable and not args.floor:
        problems.append("--floor_trainable needs --floor <mt_lora run>")
    if args.resume and args.overwrite:
        problems.append("--resume and --overwrite contradict each other: continue the run, or move it aside")
    return problems


def fail(msg, code=1):
    """A one-line error on rank 0 only (torchrun would otherwise print it once per rank); every rank exits
    non-zero. Runs before init_process_group too: the rank comes from torchrun's environment."""
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"error: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


# ----------------------------------------------------------------------------- the trainable part


def target_losses(model, tokens, mask):
    """Next-token cross-entropy at each target token, (N,) in row-major order, and the targets per row, (B,).
    tokens, mask: (B, T); mask marks targets."""
    target = mask[:, 1:]
    logits = model(tokens[:, :-1], output_mask=target)  # (N, vocab): only target positions reach the head
    return F.cross_entropy(logits, tokens[:, 1:][target], reduction="none"), target.sum(1)


def instance_sum(losses, n):
    """Sum over rows of each row's mean target loss (rows without a target add nothing)."""
    row = torch.repeat_interleave(torch.arange(len(n), device=n.device), n)  # (N,) the row of each target
    return (losses / n[row]).sum()


def lm_loss_sum(model, tokens, mask, per_instance=False):
    """Summed next-token cross-entropy over target tokens; per_instance: over rows of each row's mean."""
    losses, n = target_losses(model, tokens, mask)
    return instance_sum(losses, n) if per_instance else losses.sum()


class LoRATrainee(nn.Module):
    """What DDP wraps in lora / mt_lora mode: the adapter parameters owned by the injected model.
    (In hypernet mode DDP wraps the HyperNetwork itself.) The frozen model comes in as an argument,
    not a submodule, so DDP neither broadcasts nor buckets its weights."""

    def __init__(self, model):
        super().__init__()
        self.params = nn.ParameterList(lora.lora_parameters(model))  # the same tensors, registered twice
        self.model_ref = [model]  # a list, so the model is not a submodule

    def forward(self, model, tokens, mask, per_instance=False):
        return lm_loss_sum(model, tokens, mask, per_instance)


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
    lora.save_tensors(state, tmp / "trainable.safetensors")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    # data position: batches are a pure function of (seed, batch index), so the next index is all there is
    position = {"next_batch": step * config["grad_accum"], "seed": config["seed"]}
    (tmp / "state.json").write_text(json.dumps({"step": step, "data_position": position, "config": config}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(out_dir.glob("step_*"))[:-keep_last]:
        shutil.rmtree(old)


def load_lora_state(model, state):
    """A flat LoRA state (a lora run's trainable.safetensors) into the model's injected LoRA of the same shape."""
    lora.load_lora_state_dict(model, {"config": lora.lora_config(model), "state": state})


def load_checkpoint(ckpt: Path, trainee, optimizer):
    state = load_file(ckpt / "trainable.safetensors")
    if isinstance(trainee, LoRATrainee):
        load_lora_state(trainee.model_ref[0], state)
    else:
        trainee.load_state_dict(state)
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location="cpu", weights_only=True))
    return json.loads((ckpt / "state.json").read_text())["step"]


# ----------------------------------------------------------------------------- the run directory


def run_files(out_dir: Path):
    """What out_dir holds of an earlier run (empty: nothing a new run could destroy)."""
    if not out_dir.is_dir():
        return []
    return sorted(p.name for p in out_dir.iterdir()
                  if p.name in ("config.json", "metrics.jsonl", "samples.txt", "lora") or p.name.startswith("step_"))


def saved_run(out_dir: Path):
    """(config, step) a run in out_dir was saved with: its latest checkpoint's state.json, else
    config.json at step 0 (a run that died before its first checkpoint; mode lora keeps its
    checkpoints per task, under lora/); (None, 0) when there is none."""
    ckpt = latest_checkpoint(out_dir)
    path = ckpt / "state.json" if ckpt else out_dir / "config.json"
    if not path.is_file():
        return None, 0
    try:
        state = json.loads(path.read_text())
        return (state["config"], state["step"]) if ckpt else (state, 0)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        fail(f"{path}: unreadable run state ({type(e).__name__}: {e}); cannot --resume from it")


def resume_conflicts(saved: dict, args):
    """'--flag saved (now new)' for every result flag that differs from the saved run."""
    p, out = get_parser(), []
    for k in RESULT_FLAGS:
        if k == "tasks":  # compared as the resolved list of task names, once the data is loaded
            continue
        old, new = saved.get(k, p.get_default(k)), getattr(args, k)  # a flag newer than the run: its default
        if k in ("ckpt_dir", "data_dir") and old is not None and new is not None:
            same = Path(old).resolve() == Path(new).resolve()
        else:
            same = old == new
        if not same:
            out.append(f"--{k} {old} (now {new})")
    return out


def move_aside(out_dir: Path) -> Path:
    """--overwrite: rename the old run to <out_dir>.old-<UTC time>; nothing is deleted."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest, n = out_dir.with_name(f"{out_dir.name}.old-{stamp}"), 1
    while dest.exists():
        n += 1
        dest = out_dir.with_name(f"{out_dir.name}.old-{stamp}-{n}")
    os.replace(out_dir, dest)
    return dest


class Progress:
    """On a terminal, one status line rewritten in place between log lines, so a slow run shows it is
    alive; on a file or pipe, nothing (the log lines stay plain)."""

    def __init__(self, stream):
        self.stream = stream if stream is not None and stream.isatty() else None
        self.shown = False

    def status(self, text):
        if self.stream:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            self.shown = True

    def clear(self):
        if self.shown:
            self.stream.write("\r\033[K")
            self.shown = False


# ----------------------------------------------------------------------------- helpers


def get_lr(step, args):
    """Linear warm-up, then cosine decay to lr * min_lr_ratio at max_steps."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    progress = (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def without_definition(args, step, inst) -> bool:
    """Definition dropout: whether this training prompt leaves the definition out. A pure function of
    (seed, step, instance), like the batch itself, so --resume and DDP see the same prompts."""
    return args.def_dropout > 0 and random.Random(f"def_dropout/{args.seed}/{step}/{inst.id}").random() < args.def_dropout


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


def micro_batches(items, tokenizer, tasks, args, step=None):
    """[(task_idx, Instance)] -> [(row_tasks, tokens, mask)] with row_tasks[i] the task of row i.

    --pack 1: rows of any tasks share a micro-batch (each row gets its own task's adapter), sorted by
    length and cut by length_groups to cut padding. --pack 0: one task per micro-batch of at most
    micro_batch_size rows, in the items' order. Either way the summed loss over all micro-batches is
    the same function of the data: padding sits after the real tokens, under the causal mask.
    step: a training step (definition dropout applies); None: validation, with the definition unless the
    run trains adapter-only (def_dropout 1)."""
    enc = [data.encode_example(tokenizer, tasks[t], inst, args.n_shot, args.max_len,
                               with_definition=not (without_definition(args, step, inst) if step is not None
                                                    else args.def_dropout >= 1))
           for t, inst in items]
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


def forward_backward(model, runner, trainee, codes, micros, scale, device, ddp, on_micro=None, per_instance=False):
    """Forward and backward over one step's micro-batches [(row_tasks, tokens, mask)], gradients of
    scale * (summed target-token loss; per_instance: summed per-row mean) accumulated into the trainable
    parameters. Returns the summed loss (fp64). runner is trainee, or trainee wrapped in DDP; codes is
    None in lora modes. on_micro(i, n) is called before micro-batch i of n (a progress line)."""
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    if codes is not None:
        # One hypernetwork pass per step for this rank's tasks. The micro-batches backpropagate
        # into a detached copy W_in of its output, then W.backward(W_in.grad) finishes the chain
        # rule through the hypernetwork once (and DDP all-reduces its gradients there).
        ids = sorted({t for row_tasks, _, _ in micros for t in row_tasks})
        W = runner(codes[ids])  # (n, M, P)
        W_in = W.detach().requires_grad_()
    for i, (row_tasks, tokens, mask) in enumerate(micros):
        if on_micro is not None:
            on_micro(i, len(micros))
        tokens, mask = tokens.to(device), mask.to(device)
        if codes is not None:
            set_task_adapters(model, trainee, W_in, [ids.index(t) for t in row_tasks])  # kept through backward
            loss = lm_loss_sum(model, tokens, mask, per_instance)
            (loss * scale).backward()
        else:
            with runner.no_sync() if ddp and i < len(micros) - 1 else nullcontext():
                loss = runner(model, tokens, mask, per_instance)
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


def read_hypernet(path, args):
    """--init_from a hypernet run or step dir -> {"path", "config" (its hypernet_config), "state"}."""
    ckpt = find_checkpoint(path)
    cfg = json.loads((ckpt / "state.json").read_text())["config"]
    if cfg.get("mode") != "hypernet":
        raise ValueError(f"--init_from {ckpt}: a --mode {cfg.get('mode')} checkpoint; --mode hypernet starts from a "
                         "hypernet one")
    if Path(cfg["ckpt_dir"]).resolve() != Path(args.ckpt_dir).resolve():
        raise ValueError(f"--init_from {ckpt}: trained on {cfg['ckpt_dir']}, not on {Path(args.ckpt_dir).resolve()}")
    return {"path": str(ckpt.resolve()), "config": cfg["hypernet_config"], "state": load_file(ckpt / "trainable.safetensors")}


def read_mt_lora(path, args, targets, flag="--floor"):
    """An mt_lora run or step dir -> {"path", "rank", "alpha", "state"}, checked against this run."""
    ckpt = find_checkpoint(path)
    cfg = json.loads((ckpt / "state.json").read_text())["config"]
    if cfg.get("mode") != "mt_lora":
        raise ValueError(f"{flag} {ckpt}: a --mode {cfg.get('mode')} checkpoint; expected a --mode mt_lora one")
    if Path(cfg["ckpt_dir"]).resolve() != Path(args.ckpt_dir).resolve():
        raise ValueError(f"{flag} {ckpt}: trained on {cfg['ckpt_dir']}, not on {Path(args.ckpt_dir).resolve()}")
    if tuple(cfg["targets"].split(",")) != targets:
        raise ValueError(f"{flag} {ckpt}: targets {cfg['targets']}, this run {','.join(targets)}")
    return {"path": str(ckpt.resolve()), "rank": cfg["rank"], "alpha": cfg["alpha"],
            "state": load_file(ckpt / "trainable.safetensors")}


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
    progress = Progress(sys.stdout if master else None)

    def log(*a):
        if master:
            progress.clear()
            print(*a, flush=True)
    hypernet = codes is not None  # trainee is the HyperNetwork; else a LoRATrainee
    params = [p for p in trainee.parameters() if p.requires_grad]
    groups = [{"params": params, "lr_mult": 1.0}]
    if hypernet and args.task_lr_mult != 1:  # S, the head bias and a trainable floor move as a LoRA does
        shared = {id(p) for p in trainee.shared_parameters()}
        shared |= {id(p) for p in trainee.floor.parameters()} if trainee.cfg.floor_rank else set()
        groups = [{"params": [p for p in params if id(p) in shared], "lr_mult": 1.0},
                  {"params": [p for p in params if id(p) not in shared], "lr_mult": args.task_lr_mult}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), weight_decay=args.weight_decay)
    start = 0
    ckpt = latest_checkpoint(out_dir) if args.resume else None
    if ckpt is not None:
        start = load_checkpoint(ckpt, trainee, optimizer)
        log(f"resumed from {ckpt} at step {start}")
    if start >= args.max_steps:
        log(f"{out_dir}: finished at step {start} (--max_steps {args.max_steps}), nothing to train")
        return
    runner = DDP(trainee) if ddp else trainee
    metrics_path = out_dir / "metrics.jsonl"
    elapsed0 = 0.0  # seconds of training before this process: a resumed run's clock continues
    if master:
        out_dir.mkdir(parents=True, exist_ok=True)
        # on resume, drop what the interrupted run logged after its checkpoint
        old = metrics_path.read_text().splitlines() if metrics_path.exists() and start else []
        kept = [r for r in map(json.loads, old) if r["step"] < start]
        elapsed0 = kept[-1].get("elapsed", 0.0) if kept else 0.0
        lora.write_atomic(metrics_path, "".join(json.dumps(r) + "\n" for r in kept))
    t_run = time.perf_counter()

    def clock():  # wall-clock time and training seconds, in every metrics record
        return {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "elapsed": round(elapsed0 + time.perf_counter() - t_run, 3)}
    val_items = data.shard(data.heldout_items(tasks, args.val_per_task), rank, world)
    n_params = sum(p.numel() for p in params)
    log(f"{out_dir}: {len(tasks)} tasks, {n_params:,} trainable parameters, steps {start}..{args.max_steps}, "
        f"global batch {args.grad_accum} x {min(args.tasks_per_step, len(tasks))} tasks x {args.examples_per_task}, world {world}")

    bad_steps, times = 0, []
    per_instance = args.loss_weight == "instance"  # the step's loss (and "loss" in metrics.jsonl): see --loss_weight
    for step in range(start, args.max_steps):
        t0 = time.perf_counter()
        lr = get_lr(step, args)
        for g in optimizer.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)

        # this rank's part of the global batch, then the global target and instance counts for the normaliser
        micros, truncated = [], 0
        for k in range(args.grad_accum):
            batch = data.sample_batch(tasks, step * args.grad_accum + k, seed=args.seed,
                                      tasks_per_step=min(args.tasks_per_step, len(tasks)),
                                      examples_per_task=args.examples_per_task)
            mb, tr = micro_batches(data.shard(batch, rank, world), tokenizer, tasks, args, step)
            micros += mb
            truncated += tr
        counts = torch.tensor([sum(m[:, 1:].sum().item() for _, _, m in micros),
                               sum(m[:, 1:].any(1).sum().item() for _, _, m in micros),
                               sum(x.numel() for _, x, _ in micros), truncated], dtype=torch.float64, device=device)
        n_targets, n_instances, n_tokens, truncated = all_reduce(counts, ddp).tolist()

        # DDP averages gradients over ranks: each loss is scaled by world / (all ranks' targets or instances),
        # which makes the update the global mean over target tokens (or instances) whatever the number of ranks
        norm = n_instances if per_instance else n_targets
        scale = world / norm
        step_codes = trainee.perturb(codes, args.code_dropout, args.code_noise, seed=args.seed * 1000003 + step) \
            if hypernet else None  # code dropout / noise: validation below sees the clean codes
        loss_sum = forward_backward(model, runner, trainee, step_codes, micros, scale, device, ddp,
                                    lambda i, n: progress.status(f"step {step + 1}/{args.max_steps}: micro-batch {i + 1}/{n}"),
                                    per_instance)
        loss = all_reduce(loss_sum, ddp).item() / norm

        if not math.isfinite(loss):
            optimizer.zero_grad(set_to_none=True)
            bad_steps += 1
            log(f"step {step}: non-finite loss {loss}, step skipped ({bad_steps} in a row)")
            if master:
                with open(metrics_path, "a") as f:
                    f.write(json.dumps({"step": step, "loss": None, "skipped": "non-finite loss", "lr": lr, **clock()}) + "\n")
            if bad_steps >= args.max_bad_steps:
                progress.clear()
                fail(f"{bad_steps} non-finite losses in a row at step {step}; aborting (lower --lr?)")
            continue
        bad_steps = 0
        if hypernet:  # how fast each path learns: P (the task code's only way in) vs the task-independent S and bias
            norms = {k: torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ps if p.grad is not None])).item()
                     for k, ps in (("grad_task", trainee.task_parameters()),
                                   ("grad_shared", trainee.shared_parameters()))}
        grad_norm = torch.nn.utils.clip_grad_norm_(params, args.grad_clip if args.grad_clip > 0 else float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        times.append(time.perf_counter() - t0)
        record = {"step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm.item(), "tokens_per_s": n_tokens / times[-1]}
        if hypernet:
            record.update(norms)
        if truncated:
            record["truncated"] = int(truncated)
        if hypernet and (step % args.log_every == 0 or step == args.max_steps - 1) and len(codes) > 1:
            with torch.no_grad():
                d = adapter_diagnostics(trainee.adapters(trainee(codes[:64])))
            record["adapter_cos"], record["task_share"] = d["cos"], d["task_share"]
        if args.eval_every and ((step + 1) % args.eval_every == 0 or step == args.max_steps - 1):
            progress.status(f"step {step + 1}/{args.max_steps}: validation loss")
            record["val_loss"], record["val_loss_inst"] = validation_loss(model, tokenizer, tasks, trainee, codes,
                                                                          val_items, args, env)
            if hypernet and len(codes) > 1:
                record["val_loss_shuffled"], record["val_loss_shuffled_inst"] = validation_loss(
                    model, tokenizer, tasks, trainee, codes, val_items, args, env, shift=1)
        record.update(clock())
        if master:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        if step % args.log_every == 0 or step == args.max_steps - 1 or "val_loss" in record:
            eta = sorted(times)[len(times) // 2] * (args.max_steps - step - 1)
            extra = "".join(f" | {k} {record[k]:.4f}" for k in ("val_loss", "val_loss_shuffled", "adapter_cos", "task_share")
                            if k in record)
            log(f"step {step:5d} | loss {loss:.4f} | lr {lr:.2e} | {record['tokens_per_s']:,.0f} tok/s | "
                f"eta {eta / 60:.1f} min{extra}")
        if (step + 1) % args.save_every == 0 or step == args.max_steps - 1:
            progress.status(f"step {step + 1}/{args.max_steps}: saving checkpoint")
            if master:
                save_checkpoint(out_dir, step + 1, trainee, optimizer, config, args.keep_last)
            if ddp:
                dist.barrier()
    progress.clear()
    if ddp:  # a DDP wrapper sits in a reference cycle: free its reducer now, while the process group is up,
        del runner  # not at some later garbage collection (lora mode makes one per task) or at exit
        gc.collect()


@torch.no_grad()
def validation_loss(model, tokenizer, tasks, trainee, codes, items, args, env, shift=0):
    """(mean target-token loss, mean over instances of each one's mean target loss) on the held-out
    instances, reduced over ranks: the first weighs an instance by its answer's length, the second, like
    ROUGE-L, weighs every instance the same. shift > 0 (hypernet): task t gets the adapter written for
    task (t + shift) % n, the control that tells whether the adapters carry their task
    (val_loss_shuffled - val_loss > 0) or are one shared adapter."""
    rank, world, ddp, device, master = env
    total = torch.zeros(4, dtype=torch.float64, device=device)  # token sum, targets, instance sum, instances
    for row_tasks, tokens, mask in micro_batches(items, tokenizer, tasks, args)[0]:
        if codes is not None:
            ids = sorted(set(row_tasks))
            shifted = [(t + shift) % len(codes) for t in ids]
            set_task_adapters(model, trainee, trainee(codes[shifted]), [ids.index(t) for t in row_tasks])
        losses, n = target_losses(model, tokens.to(device), mask.to(device))
        total += torch.stack([v.double() for v in (losses.sum(), n.sum(), instance_sum(losses, n), (n > 0).sum())])
        lora.clear_weights(model) if codes is not None else None
    total = all_reduce(total, ddp)
    return (total[0] / total[1]).item(), (total[2] / total[3]).item()


@torch.no_grad()
def show_samples(model, tokenizer, tasks, hn, codes, args, heading, out_dir: Path):
    """Greedy answers on held-out instances, without and with the task's adapter; printed and
    written to out_dir/samples.txt."""
    lines = [heading]
    print(heading)
    for t, task in enumerate(tasks[: args.samples]):
        inst = task.heldout[0]
        try:
            prompt, _ = data.encode_prompt(tokenizer, task, inst, args.n_shot, args.max_len, reserve=32)
        except data.PromptTooLong as e:
            print(f"  {e}: no sample")
            continue
        with lora.disabled(model):
            base = generate(model, tokenizer, [prompt], 32)[0]
        if hn is not None:
            lora.set_weights(model, hn.adapters(hn(codes[t:t + 1])))
        adapted = generate(model, tokenizer, [prompt], 32)[0]
        lora.clear_weights(model) if hn is not None else None
        lines += [f"  {task.name}: {inst.input[:60]!r}",
                  f"    reference {inst.outputs[0]!r} | base {base.strip()!r} | adapted {adapted.strip()!r}"]
        print(*lines[-2:], sep="\n", flush=True)
    lora.write_atomic(out_dir / "samples.txt", "\n".join(lines) + "\n")
    print(f"samples written to {out_dir / 'samples.txt'}")


def check_run_dir(args, out_dir: Path, log):
    """Before anything is loaded or written: refuse to clobber a run; check a resumed run against the
    config it was saved with. Returns that config (None for a fresh run), or exits."""
    held = run_files(out_dir)
    if held and not (args.resume or args.overwrite):
        fail(f"{out_dir} holds a run ({', '.join(held[:4])}{', ...' if len(held) > 4 else ''}): continue it with "
             f"--resume, or start afresh with --overwrite (moves it to {out_dir}.old-<time>)")
    if not args.resume:
        return None
    saved, step = saved_run(out_dir)
    if saved is None:
        log(f"--resume: {out_dir} holds no run yet; starting at step 0")
        return None
    conflicts = resume_conflicts(saved, args)
    if conflicts:
        fail(f"--resume: {out_dir} was saved with other settings: {', '.join(conflicts)}; "
             "rerun with the saved values, or start a new run (another --out_dir, or --overwrite)")
    if args.mode == "lora":  # per-task runs: a finished task is skipped, an interrupted one resumes
        return saved
    if step > args.max_steps:
        fail(f"--resume: {out_dir} is at step {step}, past --max_steps {args.max_steps}; "
             f"give --max_steps above {step} to extend it")
    if step == args.max_steps:
        log(f"--resume: {out_dir} finished at step {step} = --max_steps; nothing to do (raise --max_steps to extend it)")
        raise SystemExit(0)
    old_max = saved.get("max_steps", args.max_steps)
    if old_max != args.max_steps:
        # the cosine schedule is a function of max_steps: extending it stretches the decay from here on
        lr_old = get_lr(step, argparse.Namespace(**{**vars(args), "max_steps": old_max}))
        log(f"--resume: --max_steps {old_max} -> {args.max_steps}: the cosine decay now ends at step {args.max_steps}; "
            f"lr at step {step} is {get_lr(step, args):.2e} (was {lr_old:.2e} on the old schedule)")
    return saved


def main(argv=None):
    args = get_args(argv)
    master = int(os.environ.get("RANK", 0)) == 0
    log = print if master else (lambda *a, **k: None)
    out_dir = Path(args.out_dir)
    saved = check_run_dir(args, out_dir, log)  # every rank checks, rank 0 prints: all exit alike

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
    env = (rank, world, ddp, device, master)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32  # these CPUs have no bf16 units

    try:
        # --- frozen base model and tokenizer
        model = load_model(args.ckpt_dir, device=device, dtype=dtype, max_seq_len=args.max_len)
        model.requires_grad_(False)
        model.gradient_checkpointing = args.activation_checkpointing
        tokenizer = Tokenizer(Path(args.ckpt_dir) / "tokenizer.model")

        # --- data: seen tasks train, their held-out instances validate
        taskset = data.load_tasks(args.data_dir, split=args.split, english_only=args.english_only,
                                  n_heldout=args.n_heldout, seed=args.data_seed,
                                  max_train_instances=args.max_train_instances, strict=not args.skip_bad_tasks,
                                  log=print if master else None)
        tasks = select_tasks(taskset.seen, args.tasks)
        if not tasks:
            raise ValueError(f"no seen tasks to train on ({taskset.summary})")
        # an instance whose target cannot fit beside even the bare template would stop the run mid-way
        tasks, n_unfit = data.fit_max_len(tokenizer, tasks, args.max_len, with_definition=args.def_dropout < 1)
        if n_unfit and master:
            print(f"--max_len {args.max_len}: left out {n_unfit} instances whose target does not fit (it is never cut)")
        if args.tasks_per_step * args.examples_per_task < world:
            raise ValueError(f"global batch {args.tasks_per_step}x{args.examples_per_task} is smaller than world size {world}")
        if saved is not None and saved.get("tasks") != [t.name for t in tasks]:
            old = saved.get("tasks") or []
            now = [t.name for t in tasks]
            gone, new = sorted(set(old) - set(now), key=old.index), sorted(set(now) - set(old), key=now.index)
            raise ValueError(f"--resume: {out_dir} was trained on other tasks ({len(old)} then, {len(tasks)} now; "
                             f"missing now {gone[:3]}, new {new[:3]}); rerun with the same data and --tasks")
    except (OSError, ValueError) as e:
        fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)

    targets = tuple(args.targets.split(","))
    floor = init = None
    try:
        if args.floor and args.mode == "hypernet":
            floor = read_mt_lora(args.floor, args, targets)
        if args.init_from and args.mode == "hypernet":
            init = read_hypernet(args.init_from, args)
        elif args.init_from:  # the same adapter shape, or the warm start would be another function
            init = read_mt_lora(args.init_from, args, targets, "--init_from")
            if (init["rank"], init["alpha"]) != (args.rank, args.alpha):
                raise ValueError(f"--init_from {init['path']}: rank {init['rank']}, alpha {init['alpha']}; "
                                 f"this run --rank {args.rank} --alpha {args.alpha}")
    except (OSError, ValueError) as e:
        fail(str(e))
    hn_cfg = HyperNetConfig(kind=args.kind, targets=targets, rank=args.rank, a=args.lora_a, b=args.lora_b,
                            alpha=args.alpha, seed=args.seed, d_h=args.d_h, n_layers=args.hn_layers,
                            iterations=args.iterations, module_emb=not args.no_module_emb, pooling=args.pooling,
                            direct_rank=args.direct_rank,
                            task_code=args.task_code, code_tasks=() if args.task_code == "text" else [t.name for t in tasks],
                            table_init=args.table_init,
                            floor_rank=floor["rank"] if floor else 0, floor_alpha=floor["alpha"] if floor else 16.0,
                            floor_trainable=bool(floor) and args.floor_trainable)
    if init and args.mode == "hypernet":
        saved = json.loads(json.dumps({**asdict(HyperNetConfig()), **init["config"]}))  # fields newer than it: defaults
        diff = sorted(k for k, v in json.loads(json.dumps(asdict(hn_cfg))).items() if saved.get(k) != v)
        if diff:
            was, now = (", ".join(f"{k} {c.get(k)}" for k in diff) for c in (saved, asdict(hn_cfg)))
            fail(f"--init_from {init['path']}: hypernetwork {was}; this run {now}")
    config = {**vars(args), "ckpt_dir": str(Path(args.ckpt_dir).resolve()), "world_size": world,
              "tasks": [t.name for t in tasks], "hypernet_config": asdict(hn_cfg), "data_summary": taskset.summary,
              "floor_ckpt": floor["path"] if floor else None, "init_ckpt": init["path"] if init else None}
    # --- the run is known to start: only now is anything written
    if ddp:
        dist.barrier()  # every rank has read out_dir before rank 0 changes it
    if master:
        try:
            if args.overwrite and run_files(out_dir):
                log(f"--overwrite: moved the old run to {move_aside(out_dir)}")
            out_dir.mkdir(parents=True, exist_ok=True)
            lora.write_atomic(out_dir / "config.json", json.dumps(config, indent=1))
        except OSError as e:
            fail(f"{out_dir}: cannot write the run directory ({e})")

    torch.manual_seed(args.seed)
    if args.mode == "hypernet":
        hn = HyperNetwork(hn_cfg, model.args)
        if floor:
            hn.load_floor(floor["state"], where=floor["path"])
        hn = hn.to(device)
        hn.inject(model)
        texts = [data.task_text(t, args.task_examples) for t in tasks]
        if args.task_code == "text":
            codes = hn.fit_task_stats(model, tokenizer, texts)  # (n_tasks, dim), cached; stats are checkpointed
        else:
            codes = hn.task_codes(model, tokenizer, texts, [t.name for t in tasks])  # (n_tasks,) indices
        if init:  # all of it, its code statistics and floor too: the function it computes is unchanged
            hn.load_state_dict({k: v.to(device) for k, v in init["state"].items()})
        train(args, model, tokenizer, tasks, hn, codes, out_dir, env, config)
        if master and args.samples:
            unseen = taskset.unseen
            codes = hn.task_codes(model, tokenizer, [data.task_text(t, args.task_examples) for t in unseen],
                                  [t.name for t in unseen])
            show_samples(model, tokenizer, unseen, hn, codes, args, "unseen tasks (no training on them):", out_dir)
    elif args.mode == "mt_lora":
        lora.inject(model, "plain", targets, args.rank, alpha=args.alpha, seed=args.seed, n_tasks=1)
        if init:
            load_lora_state(model, init["state"])
        train(args, model, tokenizer, tasks, LoRATrainee(model), None, out_dir, env, config)
        if master and args.samples:
            show_samples(model, tokenizer, tasks, None, None, args, "seen tasks, held-out instances:", out_dir)
    else:  # one LoRA per task, trained one after the other with the same budget; a finished task is skipped
        lora.inject(model, "plain", targets, args.rank, alpha=args.alpha, seed=args.seed, n_tasks=1)
        for t, task in enumerate(tasks):
            torch.manual_seed(args.seed * 100003 + t)
            for _, m in lora.lora_modules(model):
                m.init_bank(1)  # a fresh adapter and (in train) a fresh optimizer per task
            if init:
                load_lora_state(model, init["state"])
            train(args, model, tokenizer, [task], LoRATrainee(model), None, out_dir / "lora" / task.name, env,
                  {**config, "tasks": [task.name]})
    if ddp:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
