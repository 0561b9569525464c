"""Evaluate a trained run on Super-NaturalInstructions: SNI's metrics, every baseline, one table.

    python eval.py --ckpt runs/demo                                   # latest checkpoint, every system that applies
    python eval.py --ckpt runs/demo --mt_lora_ckpt runs/demo_mt --lora_ckpt runs/demo_lora --max_per_task 20
    python eval.py --ckpt runs/demo --task "Write the word backwards." --input hello --input world   # try an adapter

The base model, data folder, split, held-out selection and prompt length come from the run's own
saved config (step_N/state.json); --data_dir / --split evaluate on another folder of the same layout;
--tasks evaluates only some of the run's training tasks as seen (a run over many tasks, scored on a few).

Systems (rows of the table):
    base, fewshot           the frozen model, definition + input (the training prompt), with --shots examples
    base_chat, fewshot_chat the same text inside the model's own chat format (the demo model is an instruct model)
    hypernet                the adapter the hypernetwork writes from the task's definition
    hypernet_shuffled       control: each task gets the adapter written from another task's definition
    hypernet_mean           control (only when named in --systems): every task gets the mean of the adapters of
                            all the run's training tasks, the fair control on unseen tasks (a shuffled one hands
                            a new task some seen task's sharp adapter)
    mt_lora                 one LoRA trained on all seen tasks (--mt_lora_ckpt, or a --mode mt_lora run as --ckpt)
    lora                    one LoRA per seen task (--lora_ckpt), on the tasks it was trained on

Decoding: greedy, batched; a batch holds one task's instances (so one adapter, and the definition they
share is prefilled once). A row stops at the model's end-of-text tokens, and also at the first newline
when none of its task's references contains a newline (the text is cut there); the same rule for every
system. A task's budget of new tokens is its longest reference in tokens plus one, rounded up to a power
of two (at least 8), capped by --max_new_tokens.

Output, under <run>/eval/<data name>-<step>/ (<data name>-<step>-adapter_only/ with --adapter_only):
table.md (printed too), per_task.md, per_category.md, results.json (every number, the settings, the
metric version) and predictions-<system>.jsonl.
Finished systems are reused when their settings match, unless --force; two eval.py processes with
different --systems may share a directory (one thread each: faster here than one two-threaded process),
and a last call with every system then only assembles the table.
"""

import argparse
import fcntl
import itertools
import json
import math
import string
import sys
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from rouge_score import rouge_scorer
from safetensors.torch import load_file

import data
import lora
from hypernet import HyperNetConfig, HyperNetwork, adapter_diagnostics, find_checkpoint, latest_checkpoint
from model import Tokenizer, chat_prompt, generate, load_model

METRIC_VERSION = "sni-official-1: normalized exact match (articles kept), rouge-score rougeL F with Porter " \
                 "stemming, max over references, x100; non-English outputs on script-aware tokens"
SYSTEMS = ("base", "fewshot", "base_chat", "fewshot_chat", "hypernet", "hypernet_shuffled", "hypernet_mean", "mt_lora",
           "lora")
HYPERNET_SYSTEMS = ("hypernet", "hypernet_shuffled", "hypernet_mean")
OPT_IN = ("hypernet_mean",)  # not among the defaults: run only when --systems names them
DIFFERENCES = tuple(("hypernet", s) for s in ("base", "fewshot", "hypernet_shuffled", "hypernet_mean", "mt_lora", "lora"))
N_BOOTSTRAP = 1000

# ----------------------------------------------------------------------------- metrics (SNI's semantics)


def normalize_answer(s: str) -> str:
    """SQuAD's normalisation without removing articles: lower-case, drop ASCII punctuation, collapse white space."""
    s = "".join(ch for ch in str(s).lower() if ch not in string.punctuation)
    return " ".join(s.split())


# scripts written without spaces between words: each character is a token
_NO_SPACE_SCRIPTS = ((0x0E00, 0x0EFF), (0x0F00, 0x0FFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF),
                     (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))


class XlingualTokenizer:
    """Language-agnostic tokens for ROUGE on non-English outputs (rouge-score's default keeps only [a-z0-9]).

    SNI's cross-lingual track uses GPT-2's byte-level BPE, which needs files this project cannot ship or
    download. Instead, by Unicode category, case kept (as GPT-2's tokens keep it): a run of letters,
    combining marks (Devanagari/Thai vowel signs) or digits is one token, split where letters meet digits;
    each punctuation mark or symbol is a token; each character of a script written without spaces (Thai,
    Lao, Tibetan, Myanmar, Khmer, kana, CJK ideographs) is a token; white space separates. Hangul words
    are space-separated and stay whole. It differs from BPE in where long words split; words agree.
    """

    def tokenize(self, text: str):
        tokens, cur, cur_digit = [], "", False
        for ch in text:
            cat, cp = unicodedata.category(ch), ord(ch)
            word_char = cat[0] in "LMN" and not any(lo <= cp <= hi for lo, hi in _NO_SPACE_SCRIPTS)
            if word_char and (not cur or cat[0] == "M" or (cat[0] == "N") == cur_digit):
                cur += ch
                cur_digit = cur_digit if cat[0] == "M" else cat[0] == "N"
                continue
            if cur:
                tokens.append(cur)
                cur = ""
            if word_char:
                cur, cur_digit = ch, cat[0] == "N"
            elif not ch.isspace():
                tokens.append(ch)
        return tokens + [cur] * bool(cur)


_SCORERS = {False: rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True),
            True: rouge_scorer.RougeScorer(["rougeL"], tokenizer=XlingualTokenizer())}


def instance_scores(prediction: str, references, xlingual: bool = False):
    """(exact match, ROUGE-L F) x100 of one prediction: the max over its references (coerced with str)."""
    refs = [str(r) for r in (references if isinstance(references, (list, tuple)) else [references])]
    pred = str(prediction)
    em = max(float(normalize_answer(pred) == normalize_answer(r)) for r in refs)
    rl = max(_SCORERS[xlingual].score(target=r, prediction=pred)["rougeL"].fmeasure for r in refs)
    return 100.0 * em, 100.0 * rl


def compute_metrics(predictions, references, xlingual: bool = False) -> dict:
    """SNI's compute_metrics: mean over instances of the per-instance max over references, x100, 4 decimals.
    references: one list of references (or one reference) per prediction."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        raise ValueError("compute_metrics: no predictions")
    scores = np.array([instance_scores(p, r, xlingual) for p, r in zip(predictions, references)])
    return {"exact_match": round(float(scores[:, 0].mean()), 4), "rougeL": round(float(scores[:, 1].mean()), 4)}


def compute_grouped_metrics(predictions, references, groups, xlingual: bool = False) -> dict:
    """compute_metrics within each group (task name, or SNI category): {group: metrics}, groups in first-seen order."""
    by = {}
    for p, r, g in zip(predictions, references, groups, strict=True):
        by.setdefault(g, ([], []))
        by[g][0].append(p)
        by[g][1].append(r)
    return {g: compute_metrics(p, r, xlingual) for g, (p, r) in by.items()}


def is_xlingual(task: data.Task) -> bool:
    """Score with XlingualTokenizer when the task's output language is known and not English."""
    return task.output_language is not None and task.output_language != ["English"]


# ----------------------------------------------------------------------------- confidence intervals


def task_mean(per_task) -> float:
    """The headline number: the mean over tasks of each task's mean (every task weighs the same)."""
    return float(np.mean([x.mean() for x in per_task]))


def bootstrap_ci(per_task, n: int = N_BOOTSTRAP, seed: int = 0):
    """95 % percentile interval of task_mean, resampling instances within each task (tasks fixed).
    per_task: list of 1-d arrays (scores, or paired differences for a paired interval)."""
    rng = np.random.default_rng(seed)
    means = np.zeros(n)
    for x in per_task:
        means += x[rng.integers(0, len(x), size=(n, len(x)))].mean(1)
    lo, hi = np.percentile(means / len(per_task), [2.5, 97.5])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- runs and adapters


def open_run(path, step=None) -> dict:
    """A train.py run (any mode) -> {"dir", "mode", "config", "step", "ckpts": {task or None: step dir}}.
    A --mode lora run keeps one run per task under lora/<task>/; tasks without a complete checkpoint are skipped."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such run directory")
    if (path / "lora").is_dir() and latest_checkpoint(path) is None:
        ckpts = {}
        for d in sorted(p for p in (path / "lora").iterdir() if p.is_dir()):
            try:
                ckpts[d.name] = find_checkpoint(d, step)
            except FileNotFoundError:
                print(f"warning: {d}: no complete checkpoint{'' if step is None else f' at step {step}'}; skipped",
                      file=sys.stderr)
        if not ckpts:
            raise FileNotFoundError(f"{path / 'lora'}: no task with a complete checkpoint (a partial --mode lora run?)")
    else:
        ckpts = {None: find_checkpoint(path, step)}
    states = {}
    for task, ckpt in ckpts.items():
        try:
            states[task] = json.loads((ckpt / "state.json").read_text())
            states[task]["config"]["mode"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{ckpt / 'state.json'}: not a train.py checkpoint state ({type(e).__name__}: {e})") from None
        if not (ckpt / "trainable.safetensors").is_file():
            raise FileNotFoundError(f"{ckpt / 'trainable.safetensors'}: missing (a partial checkpoint?)")
    first = next(iter(states.values()))
    run_dir = path if None not in ckpts or path != ckpts[None] else path.parent
    return {"dir": run_dir, "mode": first["config"]["mode"], "config": first["config"],
            "step": max(s["step"] for s in states.values()), "ckpts": ckpts}


def load_checked(file: Path, expected: dict, ckpt_dir) -> dict:
    """safetensors -> tensors, each name and shape checked against `expected` {name: shape} (one-line errors)."""
    try:
        sd = load_file(file)
    except Exception as e:  # truncated or not safetensors: name the file, not the parser's frame
        raise ValueError(f"{file}: unreadable ({type(e).__name__}: {str(e).strip()[:120]})") from None
    missing, unexpected = sorted(expected.keys() - sd.keys()), sorted(sd.keys() - expected.keys())
    if missing or unexpected:
        raise ValueError(f"{file}: tensors do not match the adapter config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for k, shape in expected.items():
        if tuple(sd[k].shape) != tuple(shape):
            raise ValueError(f"{file}: {k} has shape {tuple(sd[k].shape)} but the base model {ckpt_dir} implies "
                             f"{tuple(shape)}: trained on a different base model")
    return sd


def plain_lora_cfg(config: dict) -> dict:
    """lora.inject arguments of a --mode lora / mt_lora run (train.py: plain LoRA with the run's rank and targets)."""
    return dict(kind="plain", targets=tuple(config["targets"].split(",")), rank=config["rank"], a=None, b=None,
                alpha=config["alpha"], seed=config["seed"])


def lora_bank(run: dict, args, ckpt_dir) -> tuple:
    """Stack a LoRA run's adapters: ([(A (N, r, in), B (N, out, r))] in lora_modules order, [task or None] * N)."""
    cfg = plain_lora_cfg(run["config"])
    shapes = lora.linear_shapes(args)
    names = [(f"layers.{l}.{lora.PARENT[t]}.{t}", t) for l, t in lora.module_order(args.n_layers, cfg["targets"])]
    expected = {}
    for n, t in names:
        i, o = shapes[t]
        expected[f"{n}.lora_A"], expected[f"{n}.lora_B"] = (1, cfg["rank"], i), (1, o, cfg["rank"])
    sds = [load_checked(c / "trainable.safetensors", expected, ckpt_dir) for c in run["ckpts"].values()]
    bank = [(torch.cat([sd[f"{n}.lora_A"] for sd in sds]), torch.cat([sd[f"{n}.lora_B"] for sd in sds])) for n, _ in names]
    return cfg, bank, list(run["ckpts"])


@contextmanager
def injected(model, kind, targets, rank, a, b, alpha, seed):
    """lora.inject for the duration of one system, then the original nn.Linear modules back (same weights)."""
    saved = [(getattr(model.layers[l], lora.PARENT[t]), t) for l, t in lora.module_order(len(model.layers), targets)]
    saved = [(parent, t, getattr(parent, t)) for parent, t in saved]
    lora.inject(model, kind, targets, rank, a, b, alpha, seed)
    try:
        yield model
    finally:
        for parent, t, module in saved:
            setattr(parent, t, module)


def fold(model, inject: dict, adapters, dtype) -> list:
    """Adapters as plain LoRA banks [(A (N, r, in), B (N, out, r))], folded once with lora's own math.
    A lightweight adapter is applied by folding its aux matrices in at every forward call; in decoding
    (one token per row) that fold costs more than the adapter itself, so evaluation folds once and
    runs the model injected with plain LoRA of the same rank and scale."""
    with injected(model, **inject):
        lora.set_weights(model, adapters)
        bank = [m.effective(*m.weights(), torch.float32) for _, m in lora.lora_modules(model)]
        lora.clear_weights(model)
    return [(A.to(dtype), B.to(dtype)) for A, B in bank]


def mean_adapter(bank, ids) -> list:
    """The mean of bank rows `ids` as one plain LoRA [(A (1, n r, in), B (1, out, n r))]: their ranks stacked,
    B scaled by 1 / n, so B A = mean_i B_i A_i exactly. Inject it with rank n r and alpha n alpha (same scale)."""
    n = len(ids)
    return [(A[ids].flatten(0, 1)[None], B[ids].permute(1, 0, 2).flatten(1)[None] / n) for A, B in bank]


def set_bank_rows(model, bank, rows):
    """Give batch row i the adapter bank[rows[i]]: only the batch's distinct adapters reach the model."""
    uniq = sorted(set(rows))
    device = bank[0][0].device
    idx = torch.tensor(uniq, device=device)
    pos = torch.tensor([uniq.index(r) for r in rows], device=device) if len(uniq) > 1 else None  # None: broadcast
    lora.set_weights(model, [(A[idx], B[idx]) for A, B in bank], pos)


def derangement(n: int, seed: int = 0) -> list:
    """A fixed permutation with no fixed point (n >= 2): a seeded shuffle, each entry sent to the next one."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    perm = [0] * n
    for i, t in enumerate(order):
        perm[t] = order[(i + 1) % n]
    return perm


def lora_train_seconds(run: dict) -> dict:
    """Seconds to train one per-task LoRA, from the run's own files: the "elapsed" seconds its metrics.jsonl
    records when present, else the wall clock from config.json to each task's last metrics line (tasks
    train one after the other), averaged over tasks. The method is reported with the number."""
    per_task, method = [], "elapsed field of metrics.jsonl"
    for ckpt in run["ckpts"].values():
        rows = [json.loads(l) for l in (ckpt.parent / "metrics.jsonl").read_text().splitlines() if l.strip()]
        if not rows or "elapsed" not in rows[-1]:
            per_task = None
            break
        per_task.append(rows[-1]["elapsed"])
    if per_task is None:
        method = "wall clock (config.json to the last task's metrics.jsonl) / tasks"
        start = (run["dir"] / "config.json").stat().st_mtime
        ends = [(c.parent / "metrics.jsonl").stat().st_mtime for c in run["ckpts"].values()]
        if max(ends) <= start:
            return {"seconds": None, "method": "n/a (file times unusable)"}
        per_task = [(max(ends) - start) / len(ends)]
    return {"seconds": float(np.mean(per_task)), "method": method}


# ----------------------------------------------------------------------------- decoding


def newline_ids(tokenizer) -> set:
    """Every token id whose text contains a newline (stop set for tasks whose answers are one line)."""
    ids = set()
    for i in range(tokenizer.n_words):
        try:
            if "\n" in tokenizer.decode([i]):
                ids.add(i)
        except (KeyError, IndexError, ValueError):  # gaps in a converted vocabulary
            pass
    return ids


def budget(tokenizer, task: data.Task, cap: int) -> int:
    longest = max(len(tokenizer.encode(" " + r, bos=False, eos=False)) for i in task.heldout + task.train for r in i.outputs)
    return min(cap, max(8, 2 ** math.ceil(math.log2(longest + 1))))


class Progress:
    """One status line with ETA on stderr: rewritten in place on a terminal, a plain line per 10 % otherwise."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done, self.t0, self.shown = total, label, 0, time.perf_counter(), -1
        self.tty = sys.stderr.isatty()

    def update(self, n: int):
        self.done += n
        el = time.perf_counter() - self.t0
        eta = el / self.done * (self.total - self.done)
        line = f"{self.label}: {self.done}/{self.total} | {el:.0f} s | eta {eta:.0f} s"
        if self.tty:
            print("\r" + line, end="\n" if self.done >= self.total else "", file=sys.stderr, flush=True)
        elif self.done * 10 // self.total > self.shown:
            self.shown = self.done * 10 // self.total
            print(line, file=sys.stderr, flush=True)


def decoding_note(timing: dict, names) -> str:
    """The notes' line on decoding time, for those of `names` (in order) that results.json's speed.decode times."""
    timed = [n for n in names if n in timing]
    if not timed:
        return ""
    where = ", ".join(sorted({f"{timing[n]['device']}, torch threads {timing[n]['threads']}" for n in timed}))
    return f"decoding, seconds per instance ({where}): " + ", ".join(
        f"{n} {timing[n]['seconds'] / max(1, timing[n]['instances']):.2f}" for n in timed)


def decode(model, tokenizer, jobs, batch_size, set_rows, nl_ids, label) -> list:
    """Greedy completions of jobs [{"prompt": ids, "budget": int, "newline": bool, "task": int, "row": bank row}].

    A batch holds one task's jobs (so one budget, one newline rule, one adapter) sorted by prompt
    length, a task's n jobs cut into ceil(n / batch_size) near-equal batches. Its rows share the
    prompt's start (the definition), which generate() then prefills once. set_rows receives each
    batch's bank rows before it runs. Returns texts in jobs' order."""
    out, progress = [None] * len(jobs), Progress(len(jobs), label)
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i]["task"], len(jobs[i]["prompt"])))
    stop = set(tokenizer.stop_tokens)
    batches = []
    for _, group in itertools.groupby(order, key=lambda i: jobs[i]["task"]):
        group = list(group)
        k = -(-len(group) // batch_size)
        batches += [group[len(group) * b // k: len(group) * (b + 1) // k] for b in range(k)]
    for batch in batches:
        first, rows = jobs[batch[0]], [jobs[j]["row"] for j in batch]
        set_rows(rows)
        texts = generate(model, tokenizer, [jobs[j]["prompt"] for j in batch], first["budget"],
                         stop=stop | nl_ids if first["newline"] else stop, share_prefix=len(set(rows)) == 1)
        for j, text in zip(batch, texts):  # generate drops the stop token: of ".\n" the "." goes too (metrics ignore it)
            out[j] = (text.split("\n")[0] if first["newline"] else text).strip()
        progress.update(len(batch))
    return out


def prompt_ids(tokenizer, task, inst, shots, chat, with_definition, max_len, reserve) -> list:
    """The training prompt (data.encode_prompt, truncated to leave `reserve` tokens), or that text in the chat format."""
    if not chat:
        return data.encode_prompt(tokenizer, task, inst, shots, max_len, reserve, with_definition)[0]
    overhead = len(chat_prompt(tokenizer, ""))
    ids, cut = data.encode_prompt(tokenizer, task, inst, shots, max_len, reserve + overhead, with_definition)
    text = tokenizer.decode(ids[int(tokenizer.add_bos):]) if cut else data.format_prompt(task, inst.input, shots, with_definition)
    return chat_prompt(tokenizer, text)


# ----------------------------------------------------------------------------- report


def summarize(records, tasks_by_name):
    """Per split: per-task score arrays, headline, CI, per-task and per-category SNI metrics."""
    out = {}
    for split in ("seen", "unseen"):
        recs = [r for r in records if r["split"] == split]
        if not recs:
            continue
        names = list(dict.fromkeys(r["task"] for r in recs))
        s = {"n_tasks": len(names), "n_instances": len(recs)}
        for m in ("rougeL", "exact_match"):
            per_task = [np.array([r[m] for r in recs if r["task"] == n]) for n in names]
            s[m] = round(task_mean(per_task), 4)
            s[m + "_ci"] = [round(v, 4) for v in bootstrap_ci(per_task)]
            s[m + "_instance_mean"] = round(float(np.mean([r[m] for r in recs])), 4)
        s["per_task"] = {n: {"rougeL": round(float(np.mean([r["rougeL"] for r in recs if r["task"] == n])), 4),
                             "exact_match": round(float(np.mean([r["exact_match"] for r in recs if r["task"] == n])), 4),
                             "n": sum(r["task"] == n for r in recs)} for n in names}
        cats = {}
        for r in recs:
            cats.setdefault((tasks_by_name[r["task"]].categories or ["(none)"])[0], []).append(r)
        s["per_category"] = {c: {"rougeL": round(float(np.mean([r["rougeL"] for r in rs])), 4),
                                 "exact_match": round(float(np.mean([r["exact_match"] for r in rs])), 4),
                                 "n": len(rs)} for c, rs in sorted(cats.items())}
        out[split] = s
    return out


def paired(recs_a, recs_b):
    """hypernet - other on the instances both have: per split, metric -> (difference, CI, excludes 0)."""
    b = {(r["task"], r["id"]): r for r in recs_b}
    out = {}
    for split in ("seen", "unseen"):
        common = [(r, b[(r["task"], r["id"])]) for r in recs_a if r["split"] == split and (r["task"], r["id"]) in b]
        if not common:
            continue
        names = list(dict.fromkeys(ra["task"] for ra, _ in common))
        out[split] = {"n_tasks": len(names), "n_instances": len(common)}
        for m in ("rougeL", "exact_match"):
            d = [np.array([ra[m] - rb[m] for ra, rb in common if ra["task"] == n]) for n in names]
            lo, hi = bootstrap_ci(d)
            out[split][m] = {"diff": round(task_mean(d), 4), "ci": [round(lo, 4), round(hi, 4)], "excludes_0": lo > 0 or hi < 0}
    return out


def compare(results, records, tasks_by_name):
    """Fill each system's base_on_same_tasks (for the % column) and the paired DIFFERENCES."""
    if "base" in records:
        for name, recs in records.items():
            covered = {(r["task"], r["id"]) for r in recs}
            base = summarize([r for r in records["base"] if (r["task"], r["id"]) in covered], tasks_by_name)
            results["systems"][name]["base_on_same_tasks"] = {s: {m: v[m] for m in ("rougeL", "exact_match")}
                                                              for s, v in base.items()}
    for a, b in DIFFERENCES:
        if a in records and b in records:
            results["differences"][f"{a}-{b}"] = paired(records[a], records[b])


def header(results) -> str:
    """The table's title line: which run, step, data and instances."""
    st, tasks = results["settings"], results["tasks"]
    return (f"{results['run']} step {results['step']} on {data_name(st['data_dir'], st['split'])} (split {st['split']}): "
            f"{len(tasks['seen'])} seen tasks (held-out instances), {len(tasks['unseen'])} unseen, "
            f"at most {st['max_per_task']} instances each; {results['date']}")


def fmt_cell(s, m, base=None):
    if s is None:
        return "n/a"
    cell = f"{s[m]:.1f} [{s[m + '_ci'][0]:.1f}, {s[m + '_ci'][1]:.1f}]"
    if base is not None and base[m] > 0:
        cell += f" {100 * (s[m] - base[m]) / base[m]:+.0f}%"
    return cell


def table(results) -> str:
    systems, head = results["systems"], results["header"]
    lines = [f"### {head}", "",
             "| system | tasks seen/unseen | seen ROUGE-L | seen EM | unseen ROUGE-L | unseen EM |", "|---|---|---|---|---|---|"]
    for name, r in systems.items():
        sums, cells = r["summary"], []
        for split in ("seen", "unseen"):
            base = r.get("base_on_same_tasks", {}).get(split) if name != "base" else None
            cells += [fmt_cell(sums.get(split), m, base) for m in ("rougeL", "exact_match")]
        counts = "/".join(str(sums[s]["n_tasks"]) if s in sums else "0" for s in ("seen", "unseen"))
        lines.append(f"| {name} | {counts} | " + " | ".join(cells) + " |")
    lines += ["", "Mean over tasks, x100; [95 % bootstrap interval, instances resampled within tasks]; "
              "% = change relative to base on the same tasks.", ""]
    if results["differences"]:
        lines += ["| paired difference | seen ROUGE-L | seen EM | unseen ROUGE-L | unseen EM |", "|---|---|---|---|---|"]
        for key, d in results["differences"].items():
            cells = []
            for split in ("seen", "unseen"):
                for m in ("rougeL", "exact_match"):
                    x = d.get(split, {}).get(m)
                    cells.append("n/a" if x is None else
                                 f"{x['diff']:+.1f} [{x['ci'][0]:+.1f}, {x['ci'][1]:+.1f}]{' *' if x['excludes_0'] else ''}")
            lines.append(f"| {key.replace('-', ' − ')} | " + " | ".join(cells) + " |")
        lines += ["", "* the 95 % paired interval excludes 0 (same instances, resampled within tasks).", ""]
    for line in results["notes"]:
        lines.append(f"- {line}")
    return "\n".join(lines) + "\n"


def detail_table(results, key) -> str:
    """per_task.md / per_category.md: rows = tasks or categories, columns = systems' ROUGE-L / EM."""
    names = list(results["systems"])
    lines = []
    for split in ("seen", "unseen"):
        rows = list(dict.fromkeys(g for r in results["systems"].values() for g in r["summary"].get(split, {}).get(key, {})))
        if not rows:
            continue
        lines += [f"### {split} ({key.replace('per_', 'per ')}): ROUGE-L / EM", "",
                  "| " + key[4:] + " | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for g in rows:
            cells = []
            for n in names:
                x = results["systems"][n]["summary"].get(split, {}).get(key, {}).get(g)
                cells.append("" if x is None else f"{x['rougeL']:.1f} / {x['exact_match']:.1f}")
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--ckpt", required=True, help="train.py run directory (any mode) or one of its step_NNNNNN/ directories")
    p.add_argument("--step", type=int, default=None, help="evaluate step_{step} (default: the latest complete checkpoint)")
    p.add_argument("--ckpt_dir", default=None, help="base model directory (default: the run's)")
    p.add_argument("--data_dir", default=None, help="SNI folder (default: the run's; 'builtin' for the built-in tasks)")
    p.add_argument("--split", default=None, help="splits/<split>/ (default: the run's)")
    p.add_argument("--max_per_task", type=int, default=100, help="instances per task (SNI: 100)")
    p.add_argument("--tasks", default=None,
                   help="comma-separated training tasks of the run to evaluate as seen (default: all of them); "
                        "unseen tasks are all evaluated, hypernet_mean still averages over every training task")
    p.add_argument("--systems", default=None,
                   help=f"comma-separated subset of {','.join(SYSTEMS)} (default: all that apply but {','.join(OPT_IN)})")
    p.add_argument("--shots", type=int, default=2, help="positive examples in the fewshot prompts")
    p.add_argument("--adapter_only", action="store_true",
                   help="adapter systems (hypernet, shuffled, mean, mt_lora, lora): prompt without the definition")
    p.add_argument("--mt_lora_ckpt", default=None, help="a train.py --mode mt_lora run directory")
    p.add_argument("--lora_ckpt", default=None, help="a train.py --mode lora run directory (one LoRA per task)")
    p.add_argument("--skip_bad_tasks", action="store_true", help="warn about corrupt or missing task files and go on")
    p.add_argument("--force", action="store_true", help="regenerate systems already evaluated with the same settings")
    p.add_argument("--batch_size", type=int, default=16, help="prompts per generation batch")
    p.add_argument("--max_new_tokens", type=int, default=128, help="cap on every task's budget of new tokens")
    p.add_argument("--max_len", type=int, default=None, help="prompt + answer tokens (default: the run's max_len)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--task", default=None, help="try an adapter: a free-text task definition (with --input)")
    p.add_argument("--input", action="append", default=None, help="try an adapter: an input (repeatable)")
    return p.parse_args(argv)


def data_name(data_dir, split) -> str:
    """'sni', 'builtin', or 'sni_<split>' for a split other than default: names evaluation folders and tables."""
    return (Path(data_dir).name if data_dir else "builtin") + ("" if split == "default" else f"_{split}")


def eval_dir(run_dir, data_dir, split, step, adapter_only=False) -> Path:
    """Where an evaluation of a run's step goes: <run>/eval/<data name>[_<split>]-<step>[-adapter_only]/
    (data_dir None: the built-in tasks)."""
    return Path(run_dir) / "eval" / f"{data_name(data_dir, split)}-{step}{'-adapter_only' * adapter_only}"


def load_hypernet(run, model, ckpt_dir, device):
    hc = run["config"]["hypernet_config"]
    hn = HyperNetwork(HyperNetConfig(**{**hc, "targets": tuple(hc["targets"])}), model.args)
    expected = {k: v.shape for k, v in hn.state_dict().items()}
    hn.load_state_dict(load_checked(run["ckpts"][None] / "trainable.safetensors", expected, ckpt_dir))
    c = hn.cfg
    return hn.to(device).eval(), dict(kind=c.kind, targets=tuple(c.targets), rank=c.rank, a=c.a, b=c.b, alpha=c.alpha,
                                      seed=c.seed)


def load_base(args, cfg):
    ckpt_dir = args.ckpt_dir or cfg["ckpt_dir"]
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32  # CPUs here have no bf16 units
    max_len = args.max_len or cfg["max_len"]
    tokenizer = Tokenizer(Path(ckpt_dir) / "tokenizer.model")
    model = load_model(ckpt_dir, device=args.device, dtype=dtype, max_seq_len=max_len + 64)  # +64: chat wrapping
    return ckpt_dir, dtype, max_len, tokenizer, model


@torch.no_grad()
def try_adapter(args):
    """Print base vs adapted answers to free-text task + inputs, side by side."""
    run = open_run(args.ckpt, args.step)
    if run["mode"] != "hypernet":
        raise ValueError(f"{args.ckpt}: --task needs a --mode hypernet run (this one is {run['mode']})")
    if run["config"].get("task_code", "text") != "text":
        raise ValueError(f"{args.ckpt}: --task needs a hypernetwork that reads text (this one: --task_code "
                         f"{run['config']['task_code']}, a diagnostic)")
    ckpt_dir, _, max_len, tokenizer, model = load_base(args, run["config"])
    hn, inject = load_hypernet(run, model, ckpt_dir, args.device)
    task = data.Task(name="your task", definition=args.task.strip(), positive_examples=[], train=[], heldout=[])
    nl = newline_ids(tokenizer)

    def jobs(with_definition):
        return [{"prompt": prompt_ids(tokenizer, task, data.Instance(f"input-{i}", x, ["?"]), 0, False, with_definition,
                                      max_len, args.max_new_tokens), "budget": args.max_new_tokens, "newline": True,
                 "task": 0, "row": None} for i, x in enumerate(args.input)]
    with injected(model, **inject):
        if getattr(hn.cfg, "floor_rank", 0):  # a frozen shared LoRA under every generated adapter
            hn.attach_floor(model)
        with lora.disabled(model):
            base = decode(model, tokenizer, jobs(True), args.batch_size, lambda rows: None, nl, "base")
        W = hn(hn.encode_tasks(model, tokenizer, [data.task_text(task, 0)]))
        adapted = decode(model, tokenizer, jobs(not args.adapter_only), args.batch_size,
                         lambda rows: lora.set_weights(model, hn.adapters(W)), nl, "adapted")
    cell = lambda s: " ".join(s.split()).replace("|", "\\|") or "(empty)"  # noqa: E731  one table row per input
    print(f"task: {task.definition}\n\n| input | base | adapted |\n|---|---|---|")
    for x, b, a in zip(args.input, base, adapted):
        print(f"| {cell(x)} | {cell(b)} | {cell(a)} |")


def seen_names(spec, trained) -> list:
    """--tasks: the run's training tasks to evaluate as seen, in the run's order (spec None: all of them)."""
    if spec is None:
        return list(trained)
    names = {n.strip() for n in spec.split(",") if n.strip()}
    bad = sorted(names - set(trained))
    if bad or not names:
        raise ValueError(f"--tasks: {', '.join(bad[:3]) or 'no name'}{' ...' if len(bad) > 3 else ''} "
                         f"{'is' if len(bad) == 1 else 'are'} not among the run's {len(trained)} training tasks "
                         f"(e.g. {trained[0]})")
    return [n for n in trained if n in names]


def applicable_systems(args, run):
    """(systems to run, mt_lora run, lora run); one-line errors for what cannot run."""
    mt = open_run(args.mt_lora_ckpt) if args.mt_lora_ckpt else (run if run["mode"] == "mt_lora" else None)
    lr = open_run(args.lora_ckpt) if args.lora_ckpt else (run if run["mode"] == "lora" else None)
    for flag, r, mode in (("--mt_lora_ckpt", mt, "mt_lora"), ("--lora_ckpt", lr, "lora")):
        if r is not None and r["mode"] != mode:
            raise ValueError(f"{flag} {r['dir']}: a --mode {r['mode']} run, expected --mode {mode}")
    have = ["base", "fewshot", "base_chat", "fewshot_chat"] \
        + list(HYPERNET_SYSTEMS) * (run["mode"] == "hypernet") \
        + ["mt_lora"] * (mt is not None) + ["lora"] * (lr is not None)
    if args.systems is None:
        return [s for s in have if s not in OPT_IN], mt, lr
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"--systems: unknown {unknown}; choose from {','.join(SYSTEMS)}")
    for s in wanted:
        if s not in have:
            need = {"lora": "--lora_ckpt <run dir> (a train.py --mode lora run)",
                    "mt_lora": "--mt_lora_ckpt <run dir> (a train.py --mode mt_lora run)"}.get(
                s, f"a --mode hypernet run as --ckpt ({run['dir']} is a --mode {run['mode']} run)")
            raise ValueError(f"--systems {s} needs {need}")
    return [s for s in SYSTEMS if s in wanted], mt, lr


@torch.no_grad()
def evaluate(args):
    run = open_run(args.ckpt, args.step)
    cfg = run["config"]
    systems, mt_run, lora_run = applicable_systems(args, run)
    trained = list(run["ckpts"]) if run["mode"] == "lora" else cfg["tasks"]
    evaluated = seen_names(args.tasks, trained)  # before the model loads: a wrong name fails at once
    ckpt_dir, dtype, max_len, tokenizer, model = load_base(args, cfg)
    hypernet = load_hypernet(run, model, ckpt_dir, args.device) if set(HYPERNET_SYSTEMS) & set(systems) else None
    banks = {name: lora_bank(r, model.args, ckpt_dir) for name, r in (("mt_lora", mt_run), ("lora", lora_run))
             if name in systems}

    # --- tasks: the run's training tasks (held-out instances) and the split's test tasks
    explicit = args.data_dir is not None or args.split is not None
    data_dir = cfg["data_dir"] if args.data_dir is None else (None if args.data_dir == "builtin" else args.data_dir)
    split = args.split or cfg["split"]
    taskset = data.load_tasks(data_dir, split, english_only=cfg["english_only"], n_heldout=cfg["n_heldout"],
                              seed=cfg["data_seed"], strict=not args.skip_bad_tasks)
    by_name = {t.name: t for t in taskset.seen}
    missing = [n for n in trained if n not in by_name]
    where = f"{data_dir or 'built-in tasks'} (split {split})"
    if missing and (len(missing) < len(trained) or not explicit):
        raise ValueError(f"{where}: {len(missing)} of the run's {len(trained)} training tasks are not among its train tasks "
                         f"(e.g. {missing[0]}); use the run's data folder and split")
    seen = [by_name[n] for n in evaluated if n in by_name]
    unseen = [t for t in taskset.unseen if t.name not in trained]
    tasks = seen + unseen
    if not tasks:
        raise ValueError(f"{where}: no task to evaluate")
    split_of = {t.name: "seen" if i < len(seen) else "unseen" for i, t in enumerate(tasks)}
    tasks_by_name = {t.name: t for t in tasks}
    items = [(ti, inst) for ti, t in enumerate(tasks) for inst in t.heldout[: args.max_per_task]]
    budgets = [budget(tokenizer, t, args.max_new_tokens) for t in tasks]
    one_line = [not any("\n" in r for i in t.heldout + t.train for r in i.outputs) for t in tasks]
    nl = newline_ids(tokenizer)

    out_dir = eval_dir(run["dir"], data_dir, split, run["step"], args.adapter_only)
    out_dir.mkdir(parents=True, exist_ok=True)
    common = {"metric_version": METRIC_VERSION, "ckpt": [str(c.resolve()) for c in run["ckpts"].values()],
              "ckpt_dir": str(Path(ckpt_dir).resolve()), "data_dir": data_dir and str(Path(data_dir).resolve()),
              "split": split, "n_heldout": cfg["n_heldout"], "data_seed": cfg["data_seed"],
              "english_only": cfg["english_only"], "max_len": max_len, "max_per_task": args.max_per_task,
              "max_new_tokens": args.max_new_tokens, "dtype": str(dtype), "tasks": [t.name for t in tasks]}
    prior_path = out_dir / "results.json"
    # settings and decoding time of every system ever finished here (kept across invocations that run other systems)
    prior = json.loads(prior_path.read_text()) if prior_path.is_file() else {}
    cache, timing = prior.get("cache", {}), prior.get("speed", {}).get("decode", {})
    results = {"metric_version": METRIC_VERSION, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": "python eval.py " + " ".join(args.argv), "run": str(run["dir"]), "step": run["step"],
               "settings": common, "run_config": cfg, "tasks": {"seen": [t.name for t in seen], "unseen": [t.name for t in unseen]},
               "systems": {}, "differences": {}, "diversity": {}, "speed": {"decode": timing}, "notes": [], "complete": False,
               "cache": cache}
    records = {}

    def save_results():
        """results.json, keeping the settings of systems another eval.py process (other --systems) finished
        here meanwhile: two processes may evaluate different systems into one directory side by side."""
        with open(out_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            disk = json.loads(prior_path.read_text()) if prior_path.is_file() else {}
            cache.update({k: v for k, v in disk.get("cache", {}).items() if k not in records})
            timing.update({k: v for k, v in disk.get("speed", {}).get("decode", {}).items() if k not in records})
            lora.write_atomic(prior_path, json.dumps(results, indent=1, ensure_ascii=False))

    def run_system(name, settings, set_rows=lambda rows: None, rows=None, shots=0, chat=False, with_definition=True):
        """Generate (or reuse) one system's predictions over `items` (restricted to tasks with a bank row)."""
        settings = {**common, **settings}
        if name in ("base", "fewshot", "base_chat", "fewshot_chat"):
            del settings["ckpt"]  # the frozen model's answers: the same for every checkpoint of the run
        pred_path = out_dir / f"predictions-{name}.jsonl"
        # this directory first, then the run's other evaluations (other steps) for checkpoint-free systems
        def finished(d):  # d's results.json, when d holds this system's predictions made with these settings
            if not ((d / "results.json").is_file() and (d / pred_path.name).is_file()):
                return None
            res = json.loads((d / "results.json").read_text())
            return res if res.get("cache", {}).get(name) == settings else None
        found = next(((d, res) for d in [out_dir, *sorted(out_dir.parent.iterdir())] if (res := finished(d)) is not None), None)
        if found and not args.force:
            there, res = found
            recs = [json.loads(l) for l in (there / pred_path.name).read_text().splitlines()]
            if there != out_dir:
                lora.write_atomic(pred_path, (there / pred_path.name).read_text())
                decoded = res.get("speed", {}).get("decode", {})
                if name in decoded:
                    timing[name] = decoded[name]
            print(f"{name}: reused {there / pred_path.name} ({len(recs)} predictions)", file=sys.stderr)
        else:
            mine = [(ti, inst) for ti, inst in items if rows is None or tasks[ti].name in rows]
            jobs = [{"prompt": prompt_ids(tokenizer, tasks[ti], inst, shots, chat, with_definition, max_len, budgets[ti]),
                     "budget": budgets[ti], "newline": one_line[ti], "task": ti,
                     "row": None if rows is None else rows[tasks[ti].name]}
                    for ti, inst in mine]
            t0 = time.perf_counter()
            preds = decode(model, tokenizer, jobs, args.batch_size, set_rows, nl, name)
            timing[name] = {"seconds": round(time.perf_counter() - t0, 3), "instances": len(jobs),
                            "device": args.device, "batch_size": args.batch_size, "threads": torch.get_num_threads()}
            recs = []
            for (ti, inst), job, pred in zip(mine, jobs, preds):
                em, rl = instance_scores(pred, inst.outputs, is_xlingual(tasks[ti]))
                recs.append({"task": tasks[ti].name, "id": inst.id, "split": split_of[tasks[ti].name],
                             "prompt_tokens": len(job["prompt"]), "prediction": pred, "references": inst.outputs,
                             "exact_match": em, "rougeL": rl})
            lora.write_atomic(pred_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
        records[name], cache[name] = recs, settings
        results["systems"][name] = {"settings": settings, "summary": summarize(recs, tasks_by_name)}
        save_results()  # partial: reusable after a crash

    # --- the base model, four prompt formats
    for name, shots, chat in (("base", 0, False), ("fewshot", args.shots, False), ("base_chat", 0, True),
                              ("fewshot_chat", args.shots, True)):
        if name in systems:
            run_system(name, {"system": name, "shots": shots}, shots=shots, chat=chat)

    # --- the hypernetwork: one adapter per task, rows of a batch pick theirs
    if hypernet is not None:
        hn, inject = hypernet
        def text(t):  # what the hypernetwork reads of a task
            return data.task_text(t, cfg.get("task_examples", 0))

        def write(ts):  # (len(ts), M, P): the adapters written from these tasks' texts
            return hn(hn.task_codes(model, tokenizer, [text(t) for t in ts], [t.name for t in ts]))

        W = write(tasks)
        rows = {t.name: i for i, t in enumerate(tasks)}
        perm = derangement(len(tasks)) if len(tasks) > 1 else [0]
        plain = {**inject, "kind": "plain", "a": None, "b": None}
        for name, Wn in (("hypernet", W), ("hypernet_shuffled", W[perm])):
            if name in systems and (name == "hypernet" or len(tasks) > 1):
                bank = fold(model, inject, hn.adapters(Wn), dtype)
                with injected(model, **plain):
                    hn.attach_floor(model)  # a --floor run: its frozen shared LoRA under every generated adapter
                    run_system(name, {"system": name, "adapter_only": args.adapter_only},
                               lambda r, b=bank: set_bank_rows(model, b, r), rows, with_definition=not args.adapter_only)
                    lora.clear_weights(model)
        if "hypernet_mean" in systems:
            pool = [by_name[n] for n in trained if n in by_name]  # every training task, evaluated (--tasks) or not
            if not pool:
                raise ValueError(f"--systems hypernet_mean: no seen task in {where} to average over")
            n = len(pool)
            Wp = W[:n] if n == len(seen) else write(pool)  # --tasks left some out: write theirs too
            bank = mean_adapter(fold(model, inject, hn.adapters(Wp), dtype), list(range(n)))
            with injected(model, **{**plain, "rank": n * plain["rank"], "alpha": n * plain["alpha"]}):
                hn.attach_floor(model)
                run_system("hypernet_mean", {"system": "hypernet_mean", "adapter_only": args.adapter_only, "mean_over": n},
                           lambda r: lora.set_weights(model, bank), with_definition=not args.adapter_only)
                lora.clear_weights(model)
        for part, idx in (("seen", range(len(seen))), ("unseen", range(len(seen), len(tasks)))):
            if len(idx) > 1:
                results["diversity"][f"hypernet/{part}"] = adapter_diagnostics(hn.adapters(W[list(idx)]))
        times = []
        for task in tasks[:5]:  # a task's adapter from text nobody encoded yet: encoder pass + hypernetwork
            hn._cache.pop(text(task), None)
            t0 = time.perf_counter()
            hn.adapters(write([task]))
            torch.cuda.synchronize() if args.device.startswith("cuda") else None
            times.append(time.perf_counter() - t0)
        results["speed"]["adapter_ms"] = 1e3 * float(np.median(times))

    # --- LoRA baselines: one shared adapter, or a bank of per-task adapters
    for name, r in (("mt_lora", mt_run), ("lora", lora_run)):
        if name not in systems:
            continue
        inject, bank, names = banks[name]
        bank = [(A.to(args.device, dtype), B.to(args.device, dtype)) for A, B in bank]
        with injected(model, **inject):
            if name == "mt_lora":
                run_system(name, {"system": name, "run": [str(c.resolve()) for c in r["ckpts"].values()],
                                  "adapter_only": args.adapter_only},
                           lambda rows: lora.set_weights(model, bank), with_definition=not args.adapter_only)
            else:
                rows = {n: i for i, n in enumerate(names) if split_of.get(n) == "seen"}
                if not rows:
                    raise ValueError(f"{r['dir']}: none of its {len(names)} task LoRAs is a seen task evaluated here")
                run_system(name, {"system": name, "run": [str(c.resolve()) for c in r["ckpts"].values()],
                                  "adapter_only": args.adapter_only},
                           lambda rr: set_bank_rows(model, bank, rr), rows, with_definition=not args.adapter_only)
                if len(rows) > 1:
                    ids = list(rows.values())
                    results["diversity"]["lora/seen"] = adapter_diagnostics([(A[ids], B[ids]) for A, B in bank])
                results["speed"]["lora_train"] = lora_train_seconds(r)
            lora.clear_weights(model)

    # --- comparisons, notes, files
    compare(results, records, tasks_by_name)
    notes = results["notes"]
    empty = [t.name for t in tasks if any(all(not normalize_answer(r) for r in i.outputs) for i in t.heldout[: args.max_per_task])]
    if empty:
        notes.append(f"references made only of punctuation (they normalise to empty: any punctuation-only prediction is an "
                     f"exact match, ROUGE-L is 0): {', '.join(empty)}")
    xl = [t.name for t in tasks if is_xlingual(t)]
    if xl:
        notes.append(f"{len(xl)} tasks with non-English outputs scored on script-aware tokens (eval.XlingualTokenizer)")
    if args.adapter_only:
        notes.append("adapter systems (hypernet, hypernet_shuffled, hypernet_mean, mt_lora, lora): prompts without the "
                     "definition (--adapter_only); base systems keep it")
    for key, d in results["diversity"].items():
        notes.append(f"{key} adapters: mean pairwise cosine {d['cos']:.4f}, task share of the energy {d['task_share']:.4f}")
    sp = results["speed"]
    if "adapter_ms" in sp:
        lt = sp.get("lora_train", {})
        ratio = f"; ratio {lt['seconds'] / (sp['adapter_ms'] / 1e3):,.0f}x" if lt.get("seconds") else ""
        notes.append(f"writing one task's adapter: {sp['adapter_ms']:.0f} ms (task encoding + hypernetwork, median); "
                     f"training one per-task LoRA: " + (f"{lt['seconds']:.1f} s ({lt['method']})" if lt.get("seconds")
                                                         else "n/a (no --lora_ckpt)") + ratio)
    if note := decoding_note(timing, records):
        notes.append(note)
    if missing:
        notes.append(f"none of the run's training tasks are in {where}: unseen tasks only")
    results["header"] = header(results)
    results["complete"] = True
    text = table(results)
    lora.write_atomic(out_dir / "table.md", text)
    lora.write_atomic(out_dir / "per_task.md", detail_table(results, "per_task"))
    lora.write_atomic(out_dir / "per_category.md", detail_table(results, "per_category"))
    save_results()
    print(text)
    print(f"wrote {out_dir}/: table.md, per_task.md, per_category.md, results.json, predictions-*.jsonl", file=sys.stderr)
    return results


def main(argv=None):
    args = get_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if (args.task is None) != (args.input is None):
        sys.exit("error: --task and --input go together (try an adapter: --task '<definition>' --input '<x>')")
    try:
        return try_adapter(args) if args.task is not None else evaluate(args)
    except (OSError, ValueError, KeyError) as e:  # one line naming the file or setting, no torch traceback
        msg = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        sys.exit(f"error: {msg.strip().splitlines()[0] if msg.strip() else type(e).__name__}")


if __name__ == "__main__":
    main()
