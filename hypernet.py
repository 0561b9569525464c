"""
The hypernetwork: task text -> lightweight LoRA adapters for every target module (docs/DESIGN.md).

    task text --(frozen base, adapters off, final hidden states mean-pooled (or the last); cached)--> code
    e = (code - task_mean) / task_scale                      normalised on the training tasks
    token_m = P(e) + E_layer[l] + E_type[t] + Q(W_m)         one token per module m = (layer l, type t)
    W_0 = 0;  W_k = W_{k-1} + Head(Decoder(tokens(W_{k-1})))  k = 1..K, same Decoder and Head
    adapter = S + W_K (+ (C e) U)                            S: learned task-independent adapter;
                                                             optional direct path (direct_rank k > 0)
    K = 0: adapter = S + (C e) U                             no decoder: a linear hypernetwork (ablation)
    (+ floor)                                                optional frozen multi-task LoRA underneath

Two diagnostics replace the task text (task_code): "id", a learned code per training task fed to the
same decoder (is the text the bottleneck?), and "table", a learned W per training task with no decoder
at all (per-task lightweight LoRAs trained jointly: what the output shape can carry). Their codes are
task indices; a task not trained on (index -1) gets the mean over the trained ones.

W_m is the flat (A_train, B_train) of module m: r*a + b*r numbers, the same for every module,
so one head serves them all. With plain-LoRA output (ablation) a = max in, b = max out, and
each module type crops its part (the padding is masked to zero).

The floor (floor_rank > 0) makes "at least as good as one shared LoRA" structural: a trained
mt_lora run (train.py --floor) is stored as frozen buffers and added under every generated
adapter, so the hypernetwork only learns the task-dependent residual. A fresh hypernetwork over a
floor is exactly that mt_lora (B_train starts at zero), and the residual has to earn its place.
With floor_trainable the floor is a parameter that goes on training with H at the plain lr (the
mt_lora continued, with the residual on top), instead of a frozen starting point.

How train.py uses it:

    hn = HyperNetwork(HyperNetConfig(...), model.args)   # model: frozen Transformer
    hn.inject(model)                                      # lora.inject with hn's LoRA config
    hn.fit_task_stats(model, tokenizer, train_task_texts) # once; stats are buffers (checkpointed)
    codes = hn.encode_tasks(model, tokenizer, texts)      # (N, dim) fp32, no grad, cached per text
    W = hn(codes)                                         # (N, M, P): one adapter per task, with grad
    lora.set_weights(model, hn.adapters(W), row_index)    # batch row i uses task row_index[i]
    loss = ...model(tokens)...; loss.backward()           # grads reach hn only
    lora.clear_weights(model)
    log(adapter_diagnostics(hn.adapters(W)))              # is the adapter conditioned on the task?

Optimise hn.parameters() with Adam(W) at a LoRA-like lr (1e-3 .. 5e-3): the head's 1/d_h output
multiplier makes one step move each generated number by about lr, as for a LoRA parameter.

Checkpoint: checkpoint(hn) -> {"hypernet_config": dict, "hypernet": state_dict} (includes the
task statistics; the aux matrices are rebuilt from cfg.seed); HyperNetwork.from_checkpoint().
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors.torch import load_file

import lora


@dataclass
class HyperNetConfig:
    # the adapters it writes (passed to lora.inject)
    kind: str = "lightweight"           # "lightweight" | "plain" (ablation)
    targets: tuple = lora.TARGETS
    rank: int = 8                       # r
    a: int = 64                         # A_train (r, a)
    b: int = 64                         # B_train (b, r)
    alpha: float = 16.0                 # s = alpha / r
    seed: int = 0                       # seed of the frozen aux matrices
    # the network
    d_h: int = 512                      # width of the module tokens
    n_layers: int = 2                   # decoder layers
    n_heads: int = 8
    ffn_mult: int = 4                   # decoder MLP width = ffn_mult * d_h
    iterations: int = 2                 # K (0: no decoder, only S and the direct path)
    module_emb: bool = True             # E_layer + E_type on (off: modules differ only by W)
    shared: bool = True                 # learned task-independent adapter S
    max_task_tokens: int = 512          # task text is truncated to this many tokens
    pooling: str = "mean"               # task code: "mean" of the text's final states, or the "last" one
    task_code: str = "text"             # "text": encoded definition; diagnostics "id", "table" (module doc)
    code_tasks: tuple = ()              # "id", "table": the training tasks' names, in code index order
    direct_rank: int = 0                # k > 0: a direct path W += c(e) U from the code to the adapter, with
                                        # c = C e (k numbers) and U (k, M, P) from zero: a low-rank bank text indexes
    table_init: str = "each"            # "table": each task's A its own random draw, or the "same" one for all
                                        # (the hypernetwork's start: task information then lives in B, in one basis)
    # multi-task floor: a frozen, trained plain LoRA (an mt_lora run) under every generated adapter,
    # which then only has to learn the task-dependent residual (0: none)
    floor_rank: int = 0
    floor_alpha: float = 16.0
    floor_trainable: bool = False       # the floor keeps training with H (parameters), as the mt_lora would

    def __post_init__(self):
        self.targets, self.code_tasks = tuple(self.targets), tuple(self.code_tasks)
        if self.pooling not in ("mean", "last"):
            raise ValueError(f"pooling {self.pooling!r}: expected 'mean' or 'last'")
        if self.task_code not in ("text", "id", "table"):
            raise ValueError(f"task_code {self.task_code!r}: expected 'text', 'id' or 'table'")
        if self.direct_rank and self.task_code == "table":
            raise ValueError("direct_rank is a path from the task code: task_code 'table' has none")
        if self.table_init not in ("each", "same"):
            raise ValueError(f"table_init {self.table_init!r}: expected 'each' or 'same'")
        if self.iterations < 0 or (self.iterations == 0 and not (self.direct_rank and self.shared)):
            raise ValueError(f"iterations {self.iterations}: expected >= 1, or 0 with direct_rank > 0 and shared "
                             f"(no decoder: the direct path carries the task, S holds A's random start)")
        if (self.task_code == "text") == bool(self.code_tasks):
            raise ValueError(f"task_code {self.task_code!r}: code_tasks must be given for 'id' and 'table' only")


class HyperNetwork(nn.Module):
    def __init__(self, cfg, args):
        super().__init__()
        self.cfg = cfg
        order = lora.module_order(args.n_layers, cfg.targets)
        shapes = lora.linear_shapes(args)
        if cfg.kind == "lightweight":
            self.a, self.b = cfg.a, cfg.b
        else:  # plain LoRA output: pad to the largest in / out, crop per module type
            self.a = max(shapes[t][0] for t in cfg.targets)
            self.b = max(shapes[t][1] for t in cfg.targets)
        r, d, M = cfg.rank, cfg.d_h, len(order)
        self.n_a = r * self.a                  # numbers of A_train, then b*r of B_train
        self.P = self.n_a + self.b * r
        self.crop = [shapes[t] if cfg.kind == "plain" else (self.a, self.b) for _, t in order]
        self.register_buffer("layer_ids", torch.tensor([l for l, _ in order]), persistent=False)
        self.register_buffer("type_ids", torch.tensor([lora.TARGETS.index(t) for _, t in order]), persistent=False)
        mask = torch.ones(M, self.P)
        for m, (i, o) in enumerate(self.crop):  # plain: zero the padding of each module's A and B
            mask[m, : self.n_a].view(r, self.a)[:, i:] = 0
            mask[m, self.n_a:].view(self.b, r)[o:] = 0
        self.register_buffer("mask", mask, persistent=False)
        # task code normalisation, fitted on the training tasks (fit_task_stats); saved
        self.register_buffer("task_mean", torch.zeros(args.dim))
        self.register_buffer("task_scale", torch.ones(()))

        n = len(cfg.code_tasks)
        if cfg.task_code == "table":  # W of each task itself, LoRA's init (A random, B = 0); no decoder
            self.code_table = nn.Parameter(torch.zeros(n, M, self.P))
            self.code_table.data[..., : self.n_a].uniform_(-1 / math.sqrt(self.a), 1 / math.sqrt(self.a))
            for m, (i, _) in enumerate(self.crop):  # plain: A's bound is 1 / sqrt(in) of its own module
                self.code_table.data[:, m, : self.n_a] *= math.sqrt(self.a / i)
            if cfg.table_init == "same":  # one draw for every task (the same random numbers consumed)
                self.code_table.data[1:] = self.code_table.data[0]
        elif cfg.iterations:
            self.task_proj = nn.Linear(args.dim, d)                    # P
            if cfg.module_emb:
                self.layer_emb = nn.Embedding(args.n_layers, d)        # E_layer
                self.type_emb = nn.Embedding(len(lora.TARGETS), d)     # E_type
            self.weight_proj = nn.Linear(self.P, d)                    # Q
            self.decoder = nn.ModuleList(
                nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.ffn_mult * d, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True) for _ in range(cfg.n_layers))
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, self.P)
            self.reset_head()
        if cfg.task_code == "id":  # N(0, 1): the scale of a normalised text code (drawn last: the
            self.code_table = nn.Parameter(torch.randn(n, args.dim))  # decoder starts as "text"'s)
        if cfg.direct_rank:  # C (k, dim) at N(0, 1 / (k dim)): |c| ~ 1 for a unit-RMS code; an Adam step of U
            k = cfg.direct_rank  # moves a task's adapter by ~lr sqrt(2k / pi) (docs/DESIGN.md); drawn after the rest
            self.direct_proj = nn.Parameter(torch.randn(k, args.dim) / math.sqrt(k * args.dim))
            self.direct = nn.Parameter(torch.zeros(k, M, self.P))         # U: the path starts silent
        self.shared = nn.Parameter(torch.zeros(M, self.P)) if cfg.shared else None  # S
        if cfg.task_code != "table" and not cfg.iterations:  # no head bias: S holds A's start (LoRA's init)
            with torch.no_grad():
                self.shared[:, : self.n_a].uniform_(-1 / math.sqrt(self.a), 1 / math.sqrt(self.a))
        if cfg.floor_rank:  # saved with the hypernetwork (its checkpoint stands alone): frozen buffers,
            self.floor = nn.Module()  # or parameters that go on training as the mt_lora would
            add = (lambda n, t: self.floor.register_parameter(n, nn.Parameter(t))) if cfg.floor_trainable \
                else self.floor.register_buffer
            for m, (_, t) in enumerate(order):
                i, o = shapes[t]
                add(f"A_{m}", torch.zeros(cfg.floor_rank, i))  # (r0, in)
                add(f"B_{m}", torch.zeros(o, cfg.floor_rank))  # (out, r0)
        self.order = order
        self._cache = {}  # task text -> pooled code (N.B. not state: depends on the base model only)

    def reset_head(self):
        # LoRA's own start: zero weights; bias puts A_train at small random values (summed over
        # K iterations to PEFT's U(+-1/sqrt(a))) and B_train at exactly zero. The adapter is then
        # a no-op, yet dL/dB_train != 0 from step one (with A = B = 0 every gradient would vanish).
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        bound = 1 / math.sqrt(self.a) / self.cfg.iterations
        with torch.no_grad():
            self.head.bias[: self.n_a].uniform_(-bound, bound)

    # ---- task encoder --------------------------------------------------------------------

    @torch.no_grad()
    def encode_tasks(self, model, tokenizer, texts, batch_size=8):
        """(N, dim) fp32 pooled codes of `texts` from the frozen base model with adapters off:
        mean of forward_hidden over the text's tokens (the BOS position, identical for every
        task, is left out), or with cfg.pooling "last" its state at the text's last token, the
        only one that has read all of it. Cached per distinct text. Call before model.setup_cache()."""
        new = list(dict.fromkeys(t for t in texts if t not in self._cache))
        device = next(model.parameters()).device
        bos = getattr(tokenizer, "add_bos", True)
        cap = min(self.cfg.max_task_tokens, model.args.max_seq_len)  # a long definition is cut, never an error
        for i in range(0, len(new), batch_size):
            chunk = new[i:i + batch_size]
            ids = [tokenizer.encode(t, bos=bos, eos=False)[:cap] for t in chunk]
            T = max(len(x) for x in ids)
            tokens = torch.zeros(len(ids), T, dtype=torch.long)  # right-padded: causal, so pads
            mask = torch.zeros(len(ids), T)                        # never change earlier states
            for j, x in enumerate(ids):
                tokens[j, : len(x)] = torch.tensor(x)
                mask[j, int(bos and len(x) > 1): len(x)] = 1
            with lora.disabled(model):
                h = model.forward_hidden(tokens.to(device)).float()  # (n, T, dim)
            if self.cfg.pooling == "last":
                pooled = h[torch.arange(len(ids)), torch.tensor([len(x) - 1 for x in ids])]
            else:
                mask = mask.to(device)[..., None]
                pooled = (h * mask).sum(1) / mask.sum(1)
            for t, p in zip(chunk, pooled):
                self._cache[t] = p
        return torch.stack([self._cache[t] for t in texts]).to(self.task_mean.device)

    @torch.no_grad()
    def fit_task_stats(self, model, tokenizer, texts):
        """Centre on the training tasks' mean code and scale the centred codes to unit RMS per
        element: raw pooled states of different instructions are nearly parallel (cos ~ 1),
        what tells tasks apart is the small remainder. Returns the raw codes."""
        codes = self.encode_tasks(model, tokenizer, texts)
        self.fit_stats_from_codes(codes)
        return codes

    @torch.no_grad()
    def fit_stats_from_codes(self, codes):
        """fit_task_stats on codes (N, dim) already encoded."""
        self.task_mean.copy_(codes.mean(0))
        rms = (codes - codes.mean(0)).pow(2).mean().sqrt()
        self.task_scale.fill_(rms.item() if rms > 1e-6 else 1.0)  # one task: centre only

    # ---- decoder ----------------------------------------------------------------------

    def tokens(self, ctx, W):
        """Module tokens (N, M, d) from the task context ctx (N, 1, d) and current adapters W (N, M, P)."""
        x = ctx + self.weight_proj(W)
        if self.cfg.module_emb:
            x = x + self.layer_emb(self.layer_ids) + self.type_emb(self.type_ids)
        return x

    def step(self, ctx, W):
        """One refinement residual Head(Decoder(tokens(W))), (N, M, P)."""
        x = self.tokens(ctx, W)
        for layer in self.decoder:
            x = layer(x)
        # Head weights act through a 1/d_h multiplier (muP's output layer): an Adam step then moves
        # each generated number by ~lr, as it moves a LoRA parameter, whatever d_h is. Without it
        # one step moves all of them coherently by ~lr*d_h and a LoRA-like lr (1e-3) diverges.
        return (F.linear(self.norm(x), self.head.weight) / self.cfg.d_h + self.head.bias) * self.mask

    def normalise(self, codes):
        """Raw pooled codes (N, dim) -> e, centred and scaled by the training tasks' statistics."""
        return (codes.float() - self.task_mean) / self.task_scale

    def task_codes(self, model, tokenizer, texts, names):
        """What forward() takes for these tasks: pooled text codes (N, dim) (encode_tasks), or for task_code
        "id" / "table" each task's index in cfg.code_tasks, -1 for a task not trained on (N,) long."""
        if self.cfg.task_code == "text":
            return self.encode_tasks(model, tokenizer, texts)
        index = {t: i for i, t in enumerate(self.cfg.code_tasks)}
        return torch.tensor([index.get(t, -1) for t in names], device=self.code_table.device)

    def task_parameters(self):
        """The parameters through which the task enters (train.py logs their gradient norm)."""
        if self.cfg.task_code == "table":
            return [self.code_table]
        return (list(self.task_proj.parameters() if self.cfg.iterations else [])
                + ([self.code_table] if self.cfg.task_code == "id" else [])
                + ([self.direct_proj, self.direct] if self.cfg.direct_rank else []))

    def shared_parameters(self):
        """The task-independent parameters: S and the head bias (the adapter every task starts from)."""
        bias = self.head.bias if hasattr(self, "head") else None  # "table" and K = 0 have no head
        return [p for p in (self.shared, bias) if p is not None]

    def forward(self, codes, iterations=None):
        """codes (N, dim) raw pooled task codes, or (N,) task indices (task_code "id", "table") ->
        W (N, M, P): flat (A_train, B_train) per module."""
        if self.cfg.task_code != "text":  # index -1 (a task not trained on): the mean row
            rows = torch.cat([self.code_table, self.code_table.mean(0, keepdim=True)])[codes]
        if self.cfg.task_code == "table":  # the rows are the adapters themselves
            W = rows * self.mask
        else:
            e = self.normalise(codes) if self.cfg.task_code == "text" else rows
            W = torch.zeros(codes.shape[0], len(self.crop), self.P, device=codes.device)
            if self.cfg.iterations:
                ctx = self.task_proj(e)[:, None, :]                       # (N, 1, d)
                for _ in range(iterations or self.cfg.iterations):
                    W = W + self.step(ctx, W)
            if self.cfg.direct_rank:  # (N, k) @ (k, M * P): each task's adapter a combination of U's k rows
                W = W + ((e @ self.direct_proj.T) @ self.direct.flatten(1)).view_as(W) * self.mask
        if self.shared is not None:
            W = W + self.shared * self.mask
        return W

    def perturb(self, codes, dropout=0.0, noise=0.0, seed=0):
        """Training-time regularisation of the task code: in the normalised space e (unit RMS over
        the training tasks), zero each coordinate with probability `dropout` (the rest scaled by
        1 / (1 - dropout)), then add Gaussian noise of std `noise`. codes (N, dim) raw -> raw codes
        that forward() maps to that e, so the decoder cannot key on any one exact code. The draw is
        a pure function of seed (train.py: of run seed and step), hence equal across --resume and ranks."""
        if not dropout and not noise:
            return codes
        if self.cfg.task_code != "text":
            raise ValueError(f"code dropout / noise act on text codes, not on task_code {self.cfg.task_code!r}")
        g = torch.Generator().manual_seed(seed)
        e = self.normalise(codes)
        if dropout:
            keep = torch.rand(e.shape, generator=g) >= dropout
            e = e * keep.to(e.device) / (1 - dropout)
        if noise:
            e = e + noise * torch.randn(e.shape, generator=g).to(e.device)
        return e * self.task_scale + self.task_mean

    def adapters(self, W):
        """W (N, M, P) -> [(A (N, r, in_m|a), B (N, out_m|b, r))] in lora.lora_modules() order (views)."""
        N, M, r = W.shape[0], W.shape[1], self.cfg.rank
        A = W[..., : self.n_a].reshape(N, M, r, self.a)
        B = W[..., self.n_a:].reshape(N, M, self.b, r)
        return [(A[:, m, :, : i], B[:, m, : o]) for m, (i, o) in enumerate(self.crop)]

    def inject(self, model, **kw):
        """lora.inject with this hypernetwork's adapter config (external weights), and its floor."""
        c = self.cfg
        lora.inject(model, c.kind, c.targets, c.rank, c.a, c.b, c.alpha, c.seed, **kw)
        return self.attach_floor(model)

    def attach_floor(self, model):
        """Put the floor (if any) under the adapters of a model injected with this config."""
        if self.cfg.floor_rank:
            lora.set_floor(model, self.floors(), self.cfg.floor_alpha / self.cfg.floor_rank)
        return model

    def floors(self):
        """[(A (r0, in), B (out, r0))] of the floor in lora.lora_modules() order (the buffers themselves)."""
        return [(getattr(self.floor, f"A_{m}"), getattr(self.floor, f"B_{m}")) for m in range(len(self.order))]

    @torch.no_grad()
    def load_floor(self, state, where="floor"):
        """Copy a trained multi-task LoRA into the floor: state = an mt_lora checkpoint's trainable state,
        {"layers.L.attention.wq.lora_A": (1, r0, in), "...lora_B": (1, out, r0), ...}."""
        for m, (l, t) in enumerate(self.order):
            name = f"layers.{l}.{lora.PARENT[t]}.{t}"
            for k, buf in (("lora_A", getattr(self.floor, f"A_{m}")), ("lora_B", getattr(self.floor, f"B_{m}"))):
                w = state.get(f"{name}.{k}")
                if w is None or tuple(w.shape) != (1, *buf.shape):
                    got = "missing" if w is None else f"shape {tuple(w.shape)}"
                    raise ValueError(f"{where}: {name}.{k} is {got}; expected (1, {', '.join(map(str, buf.shape))}) "
                                     "(a --mode mt_lora checkpoint of the same model, targets and rank)")
                buf.copy_(w[0])

    @classmethod
    def from_checkpoint(cls, ckpt, args):
        hn = cls(HyperNetConfig(**ckpt["hypernet_config"]), args)
        hn.load_state_dict(ckpt["hypernet"])
        return hn


def checkpoint(hn):
    """The hypernetwork's part of a training checkpoint (add step, optimizer, ... around it)."""
    return {"hypernet_config": asdict(hn.cfg), "hypernet": hn.state_dict()}


def latest_checkpoint(run_dir):
    """The newest complete step_NNNNNN/ of a train.py run directory (one with state.json), or None.
    An interrupted write leaves only a .tmp_step_* directory, which is never picked."""
    done = sorted(d for d in Path(run_dir).glob("step_*") if (d / "state.json").is_file())
    return done[-1] if done else None


def find_checkpoint(path, step=None) -> Path:
    """A checkpoint directory from what a user typed: a step_NNNNNN/ directory itself, or a run
    directory (its latest complete checkpoint, or step_{step} when step is given). Raises a one-line
    FileNotFoundError naming what was looked for."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run or checkpoint directory")
    if (path / "state.json").is_file() and step is None:
        return path
    if step is not None:
        ckpt = path / f"step_{step:06d}"
        if not (ckpt / "state.json").is_file():
            have = sorted(d.name for d in path.glob("step_*") if (d / "state.json").is_file())
            raise FileNotFoundError(f"{ckpt}: no complete checkpoint at step {step} (have: {have or 'none'})")
        return ckpt
    ckpt = latest_checkpoint(path)
    if ckpt is None:
        raise FileNotFoundError(f"{path}: no complete checkpoint (expected step_NNNNNN/ with state.json, "
                                "written by train.py)")
    return ckpt


def load_trained(path, args):
    """A trained hypernetwork from train.py's run directory (its latest checkpoint) or step_NNNNNN/
    directory (trainable.safetensors = hn.state_dict(), state.json's config.hypernet_config), or
    from a torch file of checkpoint(hn)."""
    path = Path(path)
    if path.is_dir():
        path = find_checkpoint(path)
        cfg = json.loads((path / "state.json").read_text())["config"]["hypernet_config"]
        ckpt = {"hypernet_config": cfg, "hypernet": load_file(path / "trainable.safetensors")}
    else:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return HyperNetwork.from_checkpoint(ckpt, args)


@torch.no_grad()
def adapter_gram(adapters):
    """(N, N) float64 Gram matrix of N tasks' weight updates dW = B A, all modules together, for
    adapters = hn.adapters(W) (or any [(A (N, r, .), B (N, ., r))], e.g. a LoRA bank), with the
    Frobenius inner product <B_i A_i, B_j A_j> = tr((B_i^T B_j)(A_j A_i^T)): r x r products, never a
    full dW. Orthonormal aux matrices preserve it, so A_train, B_train give exactly the geometry of
    the lightweight dW (unscaled: multiply by (alpha / r)^2 for the dW as applied)."""
    if isinstance(adapters, torch.Tensor):
        raise TypeError("expected hn.adapters(W), a list of (A, B) pairs, not W")
    G = 0
    for A, B in adapters:
        A, B = A.double(), B.double()
        BB = torch.einsum("ibp,jbq->ijpq", B, B)  # B_i^T B_j
        AA = torch.einsum("ipa,jqa->ijpq", A, A)  # A_i A_j^T
        G = G + (BB * AA).sum((2, 3))
    return G


@torch.no_grad()
def adapter_diagnostics(adapters):
    """Is the adapter conditioned on the task? adapters: hn.adapters(W) for N >= 2 different tasks,
    measured on the weight updates dW themselves (adapter_gram). Raw (A_train, B_train) numbers
    would mislead: their shared random A part dominates the norm.
      cos:        mean pairwise cosine similarity of the tasks' dW (prototype's collapse: 0.999)
      task_share: share of the dW energy that varies across tasks, sum|dW_i - mean|^2 / sum|dW_i|^2
    """
    G = adapter_gram(adapters)
    N = G.shape[0]
    norm = G.diagonal().clamp_min(1e-30).sqrt()
    C = G / (norm[:, None] * norm[None, :])
    cos = (C.sum() - C.diagonal().sum()) / max(N * (N - 1), 1)
    energy = G.diagonal().sum()
    share = (energy - G.sum() / N) / energy.clamp_min(1e-30)
    return {"cos": cos.item(), "task_share": share.item()}


@torch.no_grad()
def export_from_text(hn, model, tokenizer, text, out_dir, args, base_model_name_or_path=None,
                     merged_out=None, ckpt_dir=None):
    """Free-text task description -> PEFT LoRA directory out_dir (model injected via hn.inject), and/or
    merged_out: the base checkpoint ckpt_dir with that adapter merged into its weights (Meta layout)."""
    if hn.cfg.task_code != "text":
        raise ValueError(f"this hypernetwork reads no text (task_code {hn.cfg.task_code!r}, a diagnostic)")
    W = hn(hn.encode_tasks(model, tokenizer, [text]))
    lora.set_weights(model, hn.adapters(W))
    try:
        if out_dir is not None:
            lora.export_peft(model, out_dir, args, task=0, base_model_name_or_path=base_model_name_or_path)
        if merged_out is not None:
            lora.export_merged(model, ckpt_dir, merged_out)
    finally:
        lora.clear_weights(model)


def export_cli(a):
    """hypernet.py --hypernet ... --text ... --out / --merged_out: every input checked before any work."""
    if not a.hypernet:
        raise ValueError("export needs --hypernet (train.py's run or step directory)")
    if a.text is None or not a.text.strip():
        raise ValueError(f"--text {a.text!r}: empty; give the task's instruction, e.g. an SNI definition")
    outs = [d for d in (a.out, a.merged_out) if d]
    if not outs:
        raise ValueError("give --out (a PEFT adapter) and/or --merged_out (a merged Meta-layout checkpoint)")
    for d in map(Path, outs):
        if d.exists() and (not d.is_dir() or any(d.iterdir())) and not a.force:
            raise FileExistsError(f"{d}: exists; pass --force to replace it (or choose another directory)")
    path = Path(a.hypernet)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run or checkpoint directory")
    ckpt_dir = a.ckpt_dir
    if path.is_dir():
        path = find_checkpoint(path, a.step)
        if ckpt_dir is None:
            ckpt_dir = json.loads((path / "state.json").read_text())["config"].get("ckpt_dir")
            if ckpt_dir and not Path(ckpt_dir).is_dir():
                raise FileNotFoundError(f"{ckpt_dir}: the base model {path} was trained on is gone; give --ckpt_dir")
    if ckpt_dir is None:
        raise ValueError(f"{path} does not record its base model: give --ckpt_dir")

    import model as llama
    m = llama.load_model(ckpt_dir)
    tok = llama.Tokenizer(Path(ckpt_dir) / "tokenizer.model")
    try:
        hn = load_trained(path, m.args)
    except (KeyError, RuntimeError, ValueError, TypeError) as e:  # state dict or config of another shape
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ValueError(f"{path}: not a hypernetwork for {ckpt_dir} ({type(e).__name__}: {msg[:200]})") from None
    hn.inject(m)
    hub_id = a.base_model_name_or_path or lora.base_model_id(ckpt_dir, m.args)
    if a.out and hub_id is None:
        print(f"warning: no hub id known for {ckpt_dir}; adapter_config.json has base_model_name_or_path null "
              "(give --base_model_name_or_path)")
    t0 = time.perf_counter()
    export_from_text(hn, m, tok, a.text, a.out, m.args, hub_id, a.merged_out, ckpt_dir)
    what = [f"{a.out}/adapter_config.json and adapter_model.safetensors (PEFT LoRA, r={hn.cfg.rank}, base {hub_id})"] * bool(a.out)
    what += [f"{a.merged_out}/ ({ckpt_dir} with the adapter merged into its weights, Meta layout)"] * bool(a.merged_out)
    print(f"wrote {' and '.join(what)} in {1e3 * (time.perf_counter() - t0):.0f} ms: task encoding, generation, export")


def summary(cfg, args):
    """Sizes for a model shape, without weights (built on the meta device)."""
    with torch.device("meta"):
        hn = HyperNetwork(cfg, args)
    n_params = sum(p.numel() for p in hn.parameters())
    M = len(hn.crop)
    per_task = sum(cfg.rank * (i + o) for i, o in hn.crop) if cfg.kind == "plain" else M * hn.P
    shapes = lora.linear_shapes(args)
    plain_per_rank = args.n_layers * sum(i + o for t, (i, o) in shapes.items() if t in cfg.targets)
    return {"hypernet_params": n_params, "modules": M, "numbers_per_module": hn.P,
            "adapter_numbers": per_task, "exported_rank": cfg.rank,
            "plain_lora_rank_same_numbers": per_task / plain_per_rank}


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Hypernetwork summary for a model shape, or a PEFT adapter / merged checkpoint from a task text.",
        epilog="summary: --params P.json [--config JSON]; "
               "export: --hypernet RUN_DIR|STEP_DIR --text '...' --out DIR and/or --merged_out DIR [--ckpt_dir BASE]")
    p.add_argument("--params", help="params.json of the model shape (summary)")
    p.add_argument("--config", default="{}", help='HyperNetConfig overrides as JSON, e.g. {"iterations": 4} (summary)')
    p.add_argument("--hypernet", help="train.py's run directory (its latest checkpoint), a step_NNNNNN/ directory, "
                                      "or a torch file of checkpoint(hn) (export)")
    p.add_argument("--step", type=int, help="with a run directory: its step_NNNNNN/ checkpoint instead of the latest")
    p.add_argument("--text", help="free-text task description, e.g. an SNI definition (export)")
    p.add_argument("--out", help="output PEFT adapter directory (export)")
    p.add_argument("--merged_out", help="output Meta-layout checkpoint with the adapter merged into the weights (export)")
    p.add_argument("--force", action="store_true", help="replace existing --out / --merged_out directories")
    p.add_argument("--ckpt_dir", help="base model directory (export; default: the one the run trained on)")
    p.add_argument("--base_model_name_or_path", help="hub id written into the PEFT adapter "
                                                     "(default: known from the base model's hub_id file or shape)")
    a = p.parse_args(argv)
    if a.text is not None or a.hypernet or a.out or a.merged_out:
        try:
            export_cli(a)
        except (OSError, ValueError, KeyError, RuntimeError) as e:  # one line, not a torch traceback
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            sys.exit(f"error: {msg or type(e).__name__}")
        return
    if not a.params:
        p.error("give --params (summary), or --hypernet, --text and --out (export)")
    import model as llama
    try:
        args = llama.ModelArgs.from_json(a.params)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    try:
        cfg = HyperNetConfig(**json.loads(a.config))
        s = summary(cfg, args)
    except (ValueError, TypeError) as e:  # bad JSON, an unknown field, an unknown target module
        sys.exit(f"error: --config {a.config}: {e}")
    print(f"model: dim {args.dim}, {args.n_layers} layers, targets {','.join(cfg.targets)} -> {s['modules']} modules")
    inner = f"a={cfg.a}, b={cfg.b}" if cfg.kind == "lightweight" else "A (r, in), B (out, r)"
    net = f"decoder d_h={cfg.d_h}, {cfg.n_layers} layers, K={cfg.iterations}" if cfg.iterations else "no decoder (K=0)"
    print(f"adapter: {cfg.kind}, r={cfg.rank}, {inner}, alpha={cfg.alpha}; {net}"
          + (f", direct path k={cfg.direct_rank}" if cfg.direct_rank else ""))
    print(f"hypernet params:              {s['hypernet_params']:,}")
    print(f"generated numbers per module: {s['numbers_per_module']:,}")
    print(f"generated numbers per task:   {s['adapter_numbers']:,}")
    print(f"equivalent plain LoRA:        rank {s['exported_rank']} as exported (B A); "
          f"rank {s['plain_lora_rank_same_numbers']:.3f} for the same count of numbers")
    print(json.dumps(s))


if __name__ == "__main__":
    main()
