"""
Lightweight LoRA and plain LoRA for the frozen linears of model.Transformer.

Lightweight LoRA (docs/DESIGN.md): for a frozen y = W x, W of shape (out, in),

    y = W x + s * B_aux (B_train (A_train (A_aux x)))        s = alpha / r
    A_aux (a, in) frozen, orthonormal rows       A_train (r, a)      generated or trained
    B_aux (out, b) frozen, orthonormal columns   B_train (b, r)      generated or trained

Plain LoRA is the same with A (r, in), B (out, r) and no aux matrices. Either way the
adapter is an ordinary rank-r LoRA, A = A_train A_aux and B = B_aux B_train, which is how
it is applied (folded first: r*a*in flops per task instead of a*in per token), merged and
exported.

Usage (weights from outside, the hypernetwork):

    lora.inject(model, "lightweight", rank=8, a=64, b=64)     # after load_model(): base keys untouched
    lora.set_weights(model, adapters, row_index)              # adapters[m] = (A (N,r,a), B (N,b,r))
    logits = model(tokens)                                    # row i uses task row_index[i]
    lora.clear_weights(model)

Usage (owned weights, the LoRA baselines):

    lora.inject(model, "plain", rank=8, n_tasks=10)           # a trainable bank of 10 task adapters
    lora.select(model, row_index)                             # or n_tasks=1: one (multi-task) adapter
    opt = torch.optim.AdamW(lora.lora_parameters(model))
    torch.save(lora.lora_state_dict(model), ...)              # only the adapter bank + its config

Weights always carry a task dimension N; row_index (B,) long picks each batch row's task,
and N == 1 without row_index broadcasts one adapter over the batch. All of it runs as
batched matmuls: no Python loop over rows. Adapter math runs in the activation dtype (bf16 on
GPU, fp32 on CPU); the aux matrices are made in fp32 from the seed and cast where used.
"""
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from model import ffn_hidden_dim

TARGETS = ("wq", "wk", "wv", "wo", "w1", "w2", "w3")  # canonical order of module types
PARENT = {"wq": "attention", "wk": "attention", "wv": "attention", "wo": "attention",
          "w1": "feed_forward", "w2": "feed_forward", "w3": "feed_forward"}
HF_NAME = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj",
           "wo": "self_attn.o_proj", "w1": "mlp.gate_proj", "w2": "mlp.down_proj", "w3": "mlp.up_proj"}


def linear_shapes(args):
    """{module type: (in, out)} for a ModelArgs (no weights needed)."""
    hd = args.dim // args.n_heads
    kv = (args.n_kv_heads or args.n_heads) * hd
    hidden = ffn_hidden_dim(args)
    return {"wq": (args.dim, args.n_heads * hd), "wk": (args.dim, kv), "wv": (args.dim, kv),
            "wo": (args.n_heads * hd, args.dim), "w1": (args.dim, hidden), "w2": (hidden, args.dim),
            "w3": (args.dim, hidden)}


def module_order(n_layers, targets=TARGETS):
    """[(layer, type)] in the canonical order shared by lora_modules() and the hypernetwork."""
    unknown = set(targets) - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown target modules {sorted(unknown)}; choose from {TARGETS}")
    return [(l, t) for l in range(n_layers) for t in TARGETS if t in targets]


def semi_orthogonal(rows, cols, seed):
    """(rows, cols) fp32 with orthonormal columns if rows >= cols, else orthonormal rows.
    Deterministic from the seed (CPU generator), so only the seed needs to be stored."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=g))
    return q if rows >= cols else q.T.contiguous()


class LoRALinear(nn.Linear):
    """nn.Linear + a LoRA side path. Keeps .weight (same tensor, same state-dict key).

    Adapter weights have a leading task dimension N:
      lightweight: A (N, r, a), B (N, b, r)      plain: A (N, r, in), B (N, out, r)
    They are either owned parameters lora_A / lora_B (n_tasks >= 1) or set from outside
    by set_weights() (n_tasks == 0; plain attributes, so never saved or moved by .to()).
    """

    def __init__(self, in_features, out_features, kind, rank, alpha, a=None, b=None, device=None, dtype=None):
        super().__init__(in_features, out_features, bias=False, device=device, dtype=dtype)
        assert kind in ("lightweight", "plain"), kind
        self.kind, self.rank, self.alpha, self.scale = kind, rank, alpha, alpha / rank
        # inner sizes of A_train / B_train; plain LoRA is the case a = in, b = out
        self.a, self.b = (a, b) if kind == "lightweight" else (in_features, out_features)
        self.n_tasks = 0
        self.ext = None        # (A, B) from set_weights()
        self.row_index = None  # (batch,) long: batch row -> task; None: N == 1 broadcasts (or N == batch)
        self.enabled = True
        self.merged = None     # fp32 (A_eff, B_eff) of the merged task, to unmerge exactly that
        self.floor = None      # (A (r0, in), B (out, r0), scale): a frozen plain LoRA added whenever an
                               # adapter is set, the hypernetwork's multi-task floor (set_floor)

    def init_bank(self, n_tasks):
        """Own a trainable bank of n_tasks adapters, LoRA's init: A ~ U(+-1/sqrt(fan_in)) (PEFT's
        kaiming_uniform(a=sqrt(5)) bound), B = 0, so the adapter starts as a no-op."""
        w, bound = self.weight, 1 / self.a ** 0.5
        self.n_tasks = n_tasks
        kw = dict(device=w.device, dtype=w.dtype)
        self.lora_A = nn.Parameter(torch.empty(n_tasks, self.rank, self.a, **kw).uniform_(-bound, bound))
        self.lora_B = nn.Parameter(torch.zeros(n_tasks, self.b, self.rank, **kw))

    def weights(self):
        """(A, B) with task dim N, or None when no adapter is set."""
        if self.n_tasks:
            return self.lora_A, self.lora_B
        return self.ext

    def effective(self, A, B, dtype):
        """Fold the aux matrices: (N, r, in), (N, out, r) in `dtype`, an ordinary LoRA."""
        A, B = A.to(dtype), B.to(dtype)
        if self.kind == "lightweight":
            A = A @ self.A_aux.to(dtype)           # (N, r, a) @ (a, in) -> (N, r, in)
            B = self.B_aux.to(dtype) @ B           # (out, b) @ (N, b, r) -> (N, out, r)
        return A, B

    def forward(self, x):
        y = F.linear(x, self.weight)
        w = self.weights()
        if w is None or not self.enabled or self.merged is not None:
            return y  # no adapter set: the base model, floor included (it is part of every adapter)
        if self.floor is not None:
            A0, B0, s0 = self.floor
            y = y + s0 * F.linear(F.linear(x, A0.to(x.dtype)), B0.to(x.dtype))
        A, B = self.effective(*w, x.dtype)         # adapter math in the activation dtype
        if self.row_index is not None:
            A, B = A[self.row_index], B[self.row_index]  # (batch, r, in), (batch, out, r)
        if A.shape[0] == 1:                        # one adapter for the whole batch
            return y + self.scale * F.linear(F.linear(x, A[0]), B[0])
        h = x.reshape(x.shape[0], -1, x.shape[-1])      # (batch, T, in)
        h = (h @ A.transpose(1, 2)) @ B.transpose(1, 2)  # batched matmuls (bmm), row i with A[i], B[i]
        return y + self.scale * h.reshape(y.shape)

    def extra_repr(self):
        return (f"{super().extra_repr()}, kind={self.kind}, r={self.rank}, a={self.a}, b={self.b}, "
                f"alpha={self.alpha}, n_tasks={self.n_tasks}")


def inject(model, kind="lightweight", targets=TARGETS, rank=8, a=64, b=64, alpha=16.0, seed=0, n_tasks=0):
    """Replace the target nn.Linear of every layer by a LoRALinear sharing the same .weight.

    Call after load_model(): base state-dict keys and weights are unchanged (owned banks add
    keys `...lora_A` / `...lora_B`; the aux matrices are non-persistent buffers, one tensor
    per module type shared by all layers, rebuilt from `seed`). Base weights are frozen.
    n_tasks == 0: weights come from set_weights() (hypernetwork); n_tasks >= 1: each module
    owns a trainable bank of n_tasks adapters (per-task LoRA; n_tasks=1: one multi-task LoRA).
    Returns the model.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    aux = {}
    for l, t in module_order(len(model.layers), targets):
        parent = getattr(model.layers[l], PARENT[t])
        old = getattr(parent, t)
        if isinstance(old, LoRALinear):
            raise ValueError(f"layers.{l}.{PARENT[t]}.{t} already has an adapter")
        w = old.weight
        with torch.device("meta"):  # no second copy of W, the real one is assigned below
            new = LoRALinear(old.in_features, old.out_features, kind, rank, alpha, a, b)
        new.weight = w
        if n_tasks:
            new.init_bank(n_tasks)
        if kind == "lightweight":
            if t not in aux:
                i = TARGETS.index(t)
                # fp32 whatever the model's dtype: the same aux on every device, cast where used
                aux[t] = (semi_orthogonal(a, old.in_features, seed * 1000 + 2 * i).to(w.device),
                          semi_orthogonal(old.out_features, b, seed * 1000 + 2 * i + 1).to(w.device))
            new.register_buffer("A_aux", aux[t][0], persistent=False)  # (a, in)
            new.register_buffer("B_aux", aux[t][1], persistent=False)  # (out, b)
        new.seed = seed
        setattr(parent, t, new)
    return model


def lora_modules(model):
    """[(name, LoRALinear)] in canonical order (layer-major, then TARGETS order)."""
    out = []
    for l, layer in enumerate(model.layers):
        for t in TARGETS:
            m = getattr(getattr(layer, PARENT[t]), t)
            if isinstance(m, LoRALinear):
                out.append((f"layers.{l}.{PARENT[t]}.{t}", m))
    return out


def set_floor(model, floors, scale):
    """A frozen plain LoRA applied under every row's adapter: floors[m] = (A (r0, in), B (out, r0)) per
    module in lora_modules() order (None: remove). The hypernetwork's multi-task floor: a trained
    mt_lora, so that the task-conditioned adapter it writes is a residual on top of it."""
    mods = lora_modules(model)
    if floors is not None and len(floors) != len(mods):
        raise ValueError(f"got {len(floors)} floor adapters for {len(mods)} LoRA modules")
    for i, (name, m) in enumerate(mods):
        if floors is None:
            m.floor = None
            continue
        A, B = floors[i]
        if A.shape[1] != m.in_features or B.shape[0] != m.out_features or A.shape[0] != B.shape[1]:
            raise ValueError(f"{name}: floor shapes {tuple(A.shape)}, {tuple(B.shape)} do not fit "
                             f"(r0, {m.in_features}), ({m.out_features}, r0)")
        m.floor = (A, B, scale)


def set_weights(model, adapters, row_index=None):
    """Set external adapter weights for all modules at once.

    adapters: list, one (A, B) per module in lora_modules() order, each with task dim N
      (lightweight A (N, r, a), B (N, b, r); plain A (N, r, in), B (N, out, r)); may require grad.
    row_index: (batch,) long, task of each batch row; None: N == 1 broadcasts (or N == batch).
    """
    mods = lora_modules(model)
    if len(adapters) != len(mods):
        raise ValueError(f"got {len(adapters)} adapters for {len(mods)} LoRA modules")
    for (name, m), (A, B) in zip(mods, adapters):
        if m.n_tasks:
            raise ValueError(f"{name} owns its weights (n_tasks={m.n_tasks}); inject with n_tasks=0")
        if A.shape[-2:] != (m.rank, m.a) or B.shape[-2:] != (m.b, m.rank):
            raise ValueError(f"{name}: adapter shapes {tuple(A.shape)}, {tuple(B.shape)} do not match "
                             f"(N, {m.rank}, {m.a}), (N, {m.b}, {m.rank})")
        m.ext = (A, B)
    select(model, row_index)


def select(model, row_index):
    """Set the batch row -> task index (B,) long on every module (None: broadcast)."""
    for _, m in lora_modules(model):
        m.row_index = row_index


def clear_weights(model):
    """Drop external weights and row indices (frees the graph they hold)."""
    for _, m in lora_modules(model):
        m.ext, m.row_index = None, None


@contextmanager
def disabled(model):
    """Run the base model without adapters (e.g. the hypernetwork's task encoder)."""
    mods = [m for _, m in lora_modules(model)]
    prev = [m.enabled for m in mods]
    for m in mods:
        m.enabled = False
    try:
        yield model
    finally:
        for m, e in zip(mods, prev):
            m.enabled = e


def lora_parameters(model):
    """Owned adapter parameters (the LoRA baselines' trainable state)."""
    return [p for _, m in lora_modules(model) if m.n_tasks for p in (m.lora_A, m.lora_B)]


def lora_config(model):
    """What inject() needs to rebuild the adapters (stored with checkpoints and exports)."""
    mods = lora_modules(model)
    m = mods[0][1]
    return {"kind": m.kind, "targets": [t for t in TARGETS if any(n.endswith("." + t) for n, _ in mods)],
            "rank": m.rank, "a": m.a if m.kind == "lightweight" else None,
            "b": m.b if m.kind == "lightweight" else None, "alpha": m.alpha, "seed": m.seed, "n_tasks": m.n_tasks}


def lora_state_dict(model):
    """{"config": lora_config, "state": {name.lora_A/B: tensor}}: owned adapters only."""
    state = {f"{n}.{k}": getattr(m, k).detach() for n, m in lora_modules(model) if m.n_tasks
             for k in ("lora_A", "lora_B")}
    return {"config": lora_config(model), "state": state}


def load_lora_state_dict(model, sd):
    """Load lora_state_dict() output into a model injected with the same config."""
    if sd["config"] != lora_config(model):
        raise ValueError(f"LoRA config mismatch: checkpoint {sd['config']} vs model {lora_config(model)}")
    for n, m in lora_modules(model):
        with torch.no_grad():
            m.lora_A.copy_(sd["state"][f"{n}.lora_A"])
            m.lora_B.copy_(sd["state"][f"{n}.lora_B"])


def task_delta(m, task=0):
    """fp32 (A_eff (R, in), B_eff (out, R)) of one task's whole adapter on module m, to be scaled by m.scale:
    R = r, or r + r0 with a floor (its rank-r0 LoRA stacked under the task's, B0 rescaled by s0 / s)."""
    if m.weights() is None:
        raise ValueError("no adapter set: set_weights() first, or inject with n_tasks >= 1")
    A, B = m.weights()
    A, B = m.effective(A[task:task + 1].detach().float(), B[task:task + 1].detach().float(), torch.float32)
    A, B = A[0], B[0]
    if m.floor is not None:
        A0, B0, s0 = m.floor
        A = torch.cat([A, A0.detach().float()], 0)
        B = torch.cat([B, B0.detach().float() * (s0 / m.scale)], 1)
    return A, B


@torch.no_grad()
def merge(model, task=0):
    """Fold task `task`'s adapter into W (W += s B A, computed in fp32); forward skips the side path.
    Exactly reversible by unmerge() within fp32 rounding (bf16 weights: within bf16 rounding)."""
    for name, m in lora_modules(model):
        if m.merged is not None:
            raise ValueError(f"{name} is already merged; unmerge first")
        A, B = task_delta(m, task)
        m.weight.copy_((m.weight.float() + m.scale * (B @ A)).to(m.weight.dtype))
        m.merged = (A, B)


@torch.no_grad()
def unmerge(model):
    """Subtract exactly the delta merge() added (equal to the original W within fp32 rounding)."""
    for _, m in lora_modules(model):
        if m.merged is not None:
            A, B = m.merged
            m.weight.copy_((m.weight.float() - m.scale * (B @ A)).to(m.weight.dtype))
            m.merged = None


# ----------------------------------------------------------------------------- files


def _file_mode():
    """0o666 less the process umask: the mode open() gives a new file. safetensors (and
    tempfile.mkstemp) create files 0600, which other users of a shared checkpoint cannot read."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_tensors(tensors, path, metadata=None):
    """safetensors.save_file with the normal file mode."""
    save_file(tensors, path, metadata=metadata)
    os.chmod(path, _file_mode())


def write_atomic(path, text):
    """Write a text file under a temporary name, then rename it: a reader (or a crash) never sees
    half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path):
    """Yield a fresh temporary directory beside `path`; on success it replaces `path` in one rename
    (an existing `path` is moved aside first and removed last). On an error `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = (path.with_name(f".{path.name}.{k}-{os.getpid()}") for k in ("tmp", "old"))
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()  # mkdir, not mkdtemp: normal mode
    try:
        yield tmp
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def hf_permute(w, n_heads):
    """Meta's interleaved RoPE row order -> transformers' half-split order (rows of (out, ...))."""
    out = w.shape[0]
    return w.view(n_heads, out // n_heads // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")


def meta_permute(w, n_heads):
    """The inverse of hf_permute: transformers' half-split rows -> Meta's interleaved RoPE pairs."""
    out = w.shape[0]
    return w.view(n_heads, 2, out // n_heads // 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def export_peft(model, out_dir, args, task=0, dtype=torch.float32, base_model_name_or_path=None):
    """Write task `task`'s adapter as a PEFT LoRA directory for transformers' LlamaForCausalLM.

    adapter_model.safetensors holds base_model.model.model.layers.N.<hf module>.lora_{A,B}.weight
    with A = A_train A_aux (r, in) and B = B_aux B_train (out, r); B rows of wq/wk are permuted
    to the HF rotary layout (n_heads for q, n_kv_heads for k). lora_alpha / r equals our scale
    (r = rank + r0 with a floor: task_delta stacks the floor's LoRA under the task's).
    `args` is the model's ModelArgs (for the head counts). base_model_name_or_path should be a
    hub id transformers can load (see base_model_id). The directory is replaced in one rename.
    """
    cfg = lora_config(model)
    tensors = {}
    for name, m in lora_modules(model):
        _, l, _, t = name.split(".")
        A, B = task_delta(m, task)  # rank R = r, or r + r0 with a floor
        rank = A.shape[0]
        if t == "wq":
            B = hf_permute(B, args.n_heads)
        elif t == "wk":
            B = hf_permute(B, args.n_kv_heads or args.n_heads)
        prefix = f"base_model.model.model.layers.{l}.{HF_NAME[t]}"
        tensors[f"{prefix}.lora_A.weight"] = A.to(dtype).contiguous()
        tensors[f"{prefix}.lora_B.weight"] = B.to(dtype).contiguous()
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_model_name_or_path,
        "r": rank, "lora_alpha": cfg["alpha"] * rank / cfg["rank"], "lora_dropout": 0.0, "bias": "none",
        "target_modules": sorted(HF_NAME[t].split(".")[1] for t in cfg["targets"]),
        "fan_in_fan_out": False, "use_rslora": False, "use_dora": False, "inference_mode": True,
        "init_lora_weights": True, "modules_to_save": None, "layers_to_transform": None,
    }
    out_dir = Path(out_dir)
    other = sorted(p.name for p in out_dir.iterdir() if p.name not in PEFT_FILES) if out_dir.is_dir() else []
    if other:  # replacing the folder would delete them
        raise FileExistsError(f"{out_dir}: holds files that are not a PEFT adapter ({', '.join(other[:3])}); "
                              "choose an empty or new directory")
    with atomic_dir(out_dir) as tmp:
        save_tensors(tensors, tmp / "adapter_model.safetensors", metadata={"format": "pt"})
        (tmp / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")


@torch.no_grad()
def export_merged(model, base_dir, out_dir, task=0):
    """Write the base model with task `task`'s adapter folded in (merge) as a Meta-layout checkpoint
    that model.load_model reads: consolidated.00.pth in the base file's dtypes, and base_dir's other
    files (params.json, tokenizer.model, tokenizer_config.json) copied. The model is left unmerged."""
    base_dir = Path(base_dir)
    base = torch.load(base_dir / "consolidated.00.pth", map_location="cpu", mmap=True, weights_only=True)
    merge(model, task)
    try:
        # copy=True: with matching dtype .to() would alias the weights that unmerge() restores below
        sd = {k: v.detach().to("cpu", base[k].dtype, copy=True) for k, v in model.state_dict().items()}
    finally:
        unmerge(model)
    with atomic_dir(out_dir) as tmp:
        torch.save(sd, tmp / "consolidated.00.pth")
        for f in sorted(base_dir.iterdir()):
            # hub_id names the base model on the hub, which the merged weights no longer are
            if f.is_file() and not f.name.startswith("consolidated.") and f.name != "hub_id":
                shutil.copyfile(f, tmp / f.name)  # copyfile: the normal mode, not the source's


# Hub ids of the base models this project knows by shape, for PEFT's base_model_name_or_path (a
# Meta-layout folder is not something transformers can load). Instruct and base variants share a
# shape: the Meta-layout folder cannot tell them apart, so exports name the variant trained here
# and take --base_model_name_or_path to override.
KNOWN_MODELS = [
    (dict(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, vocab_size=49152), "HuggingFaceTB/SmolLM2-135M-Instruct"),
    (dict(dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, vocab_size=128256, use_scaled_rope=False),
     "meta-llama/Meta-Llama-3-8B"),
    (dict(dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, vocab_size=128256, use_scaled_rope=True),
     "meta-llama/Llama-3.1-8B"),
]


def base_model_id(ckpt_dir, args):
    """Hub id of a Meta-layout checkpoint: the one-line `hub_id` file in ckpt_dir if there is one,
    else the known model of this shape (args: its ModelArgs), else None."""
    f = Path(ckpt_dir) / "hub_id"
    if f.is_file():
        return f.read_text().strip() or None
    for shape, hub_id in KNOWN_MODELS:
        if all(getattr(args, k) == v for k, v in shape.items()):
            return hub_id
    return None


    with open(os.path.join(out_dir, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)


def load_peft(model, peft_dir):
    """The inverse of export_peft: inject the PEFT LoRA adapter in peft_dir into a base model.

    Reads adapter_config.json (r, lora_alpha, target_modules) and adapter_model.safetensors
    (base_model.model.model.layers.N.<hf module>.lora_{A,B}.weight), puts the B rows of wq / wk back
    from transformers' rotary order into Meta's, and injects plain LoRA owning those weights
    (n_tasks=1, so forward applies it to every row; lora.merge folds it into W). Everything is
    checked before the model is touched. Returns the model.
    """
    peft_dir = Path(peft_dir)
    if not peft_dir.is_dir():
        raise FileNotFoundError(f"{peft_dir}: PEFT adapter directory not found")
    cfg_path, w_path = peft_dir / "adapter_config.json", peft_dir / "adapter_model.safetensors"
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: not found (a PEFT LoRA directory holds adapter_config.json and "
                                    "adapter_model.safetensors)")
    try:
        cfg = json.loads(cfg_path.read_text())
        r, alpha, modules = int(cfg["r"]), float(cfg["lora_alpha"]), cfg["target_modules"]
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{cfg_path}: not valid JSON ({e})") from None
    except KeyError as e:
        raise ValueError(f"{cfg_path}: missing key {e.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ValueError(f"{cfg_path}: r={cfg.get('r')!r} and lora_alpha={cfg.get('lora_alpha')!r} "
                         "must be numbers") from None
    if cfg.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"{cfg_path}: peft_type {cfg['peft_type']!r}, expected 'LORA'")
    for key in ("use_dora", "use_rslora", "rank_pattern", "alpha_pattern", "layers_to_transform"):
        if cfg.get(key):  # variants whose math or layout is not plain LoRA on every layer
            raise ValueError(f"{cfg_path}: {key}={cfg[key]!r} is not supported (plain LoRA on every layer only)")
    ours = {HF_NAME[t].split(".")[1]: t for t in TARGETS}  # q_proj -> wq, ...
    if not isinstance(modules, list) or not modules:
        raise ValueError(f"{cfg_path}: target_modules={modules!r}; expected a list of names from {sorted(ours)}")
    unknown = sorted(set(modules) - set(ours))
    if unknown:
        raise ValueError(f"{cfg_path}: unknown target modules {unknown}; Llama's linears are {sorted(ours)}")
    targets = [t for t in TARGETS if HF_NAME[t].split(".")[1] in modules]
    try:
        sd = load_file(w_path)
    except Exception as e:  # truncated or not safetensors: name the file, not the parser's internals
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{w_path}: unreadable safetensors file ({reason})") from None

    args, shapes, weights = model.args, linear_shapes(model.args), []
    for l, t in module_order(args.n_layers, targets):
        name, prefix = f"layers.{l}.{PARENT[t]}.{t}", f"base_model.model.model.layers.{l}.{HF_NAME[t]}"
        A, B = sd.pop(f"{prefix}.lora_A.weight", None), sd.pop(f"{prefix}.lora_B.weight", None)
        if A is None or B is None:
            raise ValueError(f"{w_path}: no {prefix}.lora_{'A' if A is None else 'B'}.weight for {name} "
                             f"(the base model has {args.n_layers} layers)")
        i, o = shapes[t]
        if A.shape != (r, i) or B.shape != (o, r):
            raise ValueError(f"{w_path}: {name} ({HF_NAME[t]}): the adapter (A {tuple(A.shape)}, B {tuple(B.shape)}) "
                             f"fits a {(B.shape[0], A.shape[-1])} weight, the base model's is {(o, i)} (r={r})")
        if t in ("wq", "wk"):
            B = meta_permute(B, args.n_heads if t == "wq" else args.n_kv_heads)
        weights.append((A, B))
    if sd:
        extra = sorted(sd)
        raise ValueError(f"{w_path}: {len(extra)} tensors the base model has no place for, e.g. {extra[0]} "
                         f"(the base model has {args.n_layers} layers)")

    inject(model, "plain", targets, rank=r, alpha=alpha, n_tasks=1)
    with torch.no_grad():
        for (_, m), (A, B) in zip(lora_modules(model), weights):
            m.lora_A.copy_(A[None])
            m.lora_B.copy_(B[None])
    return model
