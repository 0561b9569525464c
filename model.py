"""Llama 3 in one file: ModelArgs, Transformer, Tokenizer, load_model and batched greedy generation.

Loads Meta's original checkpoint layout as downloaded (params.json, consolidated.00.pth,
tokenizer.model) with strict=True and no key map. The math follows Meta's reference code
(llama_models/llama3/model.py) with the model-parallel layers replaced by nn.Linear and
attention by F.scaled_dot_product_attention.
"""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import AbstractSet, Collection, Iterator, List, Literal, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@dataclass
class ModelArgs:
    # exactly the keys of Meta's params.json
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: Optional[int] = None
    vocab_size: int = -1  # Llama 2 writes -1: the checkpoint's embedding decides
    multiple_of: int = 256
    ffn_dim_multiplier: Optional[float] = None
    norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    use_scaled_rope: bool = False
    # runtime settings, never in params.json
    max_batch_size: int = 32
    max_seq_len: int = 2048

    def __post_init__(self):
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        if self.dim % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(f"ModelArgs: dim={self.dim} must be divisible by n_heads={self.n_heads}, "
                             f"and n_heads by n_kv_heads={self.n_kv_heads}")

    @classmethod
    def from_json(cls, path, **overrides) -> "ModelArgs":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: params.json not found")
        try:
            params = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(params, dict):
            raise ValueError(f"{path}: expected a JSON object of model parameters")
        known = {f.name for f in fields(cls)} - {"max_batch_size", "max_seq_len"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; expected a subset of {sorted(known)}")
        # Llama 3 files always state rope_theta; Llama 2 files omit it and were trained with 10000.
        params.setdefault("rope_theta", 10000.0)
        return cls(**{**params, **overrides})


def ffn_hidden_dim(args: ModelArgs) -> int:
    """Meta's SwiGLU width rule: 2/3 of 4*dim, times ffn_dim_multiplier, rounded up to multiple_of."""
    hidden = int(2 * (4 * args.dim) / 3)
    if args.ffn_dim_multiplier is not None:
        hidden = int(args.ffn_dim_multiplier * hidden)
    return args.multiple_of * ((hidden + args.multiple_of - 1) // args.multiple_of)


# ----------------------------------------------------------------------------- math


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # normalise in fp32 even when the model runs in bf16, as Meta does
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def apply_scaling(freqs: torch.Tensor) -> torch.Tensor:
    # Llama 3.1 long-context RoPE scaling (constants from Meta's reference code)
    scale_factor, low_freq_factor, high_freq_factor, old_context_len = 8, 1, 4, 8192
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / freqs
    new_freqs = torch.where(wavelen > low_freq_wavelen, freqs / scale_factor, freqs)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    return torch.where((wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen),
                       (1 - smooth) * new_freqs / scale_factor + smooth * new_freqs, new_freqs)


def precompute_freqs_cis(dim: int, end: int, theta: float, use_scaled: bool = False) -> torch.Tensor:
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    if use_scaled:
        freqs = apply_scaling(freqs)
    freqs = torch.outer(torch.arange(end, dtype=torch.float32), freqs)
    return torch.polar(torch.ones_like(freqs), freqs)  # (end, dim/2) complex64


def apply_rotary_emb(xq, xk, freqs_cis):
    # Meta's interleaved layout: pairs (x[2i], x[2i+1]) rotate together. x: (B, T, H, hd)
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    # (T, hd/2) shared by all rows, or (B, T, hd/2) per row (left-padded batches) -> broadcast over heads
    freqs_cis = freqs_cis.unsqueeze(-2)
    xq_out = torch.view_as_real(xq_ * freqs_cis).flatten(3)
    xk_out = torch.view_as_real(xk_ * freqs_cis).flatten(3)
    return xq_out.type_as(xq), xk_out.type_as(xk)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, T, n_kv_heads, hd) -> (B, T, n_kv_heads * n_rep, hd), each kv head shared by n_rep query heads."""
    if n_rep == 1:
        return x
    B, T, n_kv, hd = x.shape
    return x[:, :, :, None, :].expand(B, T, n_kv, n_rep, hd).reshape(B, T, n_kv * n_rep, hd)


# ----------------------------------------------------------------------------- model


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads = args.n_heads, args.n_kv_heads
        self.n_rep = self.n_heads // self.n_kv_heads
        self.head_dim = args.dim // args.n_heads
        self.wq = nn.Linear(args.dim, self.n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(self.n_heads * self.head_dim, args.dim, bias=False)
        self.cache_k = self.cache_v = None  # (max_batch, max_seq, n_kv_heads, hd) when the KV cache is on

    def forward(self, x, start_pos: Union[int, torch.Tensor], freqs_cis, mask: Optional[torch.Tensor] = None):
        """x (B, T, dim) at cache slots start_pos..start_pos + T - 1.

        mask (B, 1, T, S) bool, True = may attend; None = causal. start_pos as a (T,) long tensor of
        slots (decode_step): fixed shapes for torch.compile, keys are the whole cache and mask hides
        the unwritten slots.
        """
        B, T, _ = x.shape
        xq = self.wq(x).view(B, T, self.n_heads, self.head_dim)
        xk = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim)
        xv = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim)
        xq, xk = apply_rotary_emb(xq, xk, freqs_cis)

        if torch.is_tensor(start_pos):
            self.cache_k.index_copy_(1, start_pos, xk)  # cache batch == B: setup_cache(B, ...)
            self.cache_v.index_copy_(1, start_pos, xv)
            xk, xv = self.cache_k, self.cache_v
        elif self.cache_k is not None:
            self.cache_k[:B, start_pos:start_pos + T] = xk
            self.cache_v[:B, start_pos:start_pos + T] = xv
            xk, xv = self.cache_k[:B, :start_pos + T], self.cache_v[:B, :start_pos + T]

        q = xq.transpose(1, 2)  # (B, H, T, hd)
        k = repeat_kv(xk, self.n_rep).transpose(1, 2)  # (B, H, S, hd), S = start_pos + T or the cache length
        v = repeat_kv(xv, self.n_rep).transpose(1, 2)
        if mask is not None:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        elif T > 1 and start_pos > 0:
            # chunked prefill: query i sits at position start_pos + i and sees keys 0..start_pos + i
            mask = torch.ones(T, start_pos + T, dtype=torch.bool, device=x.device).tril(start_pos)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        return self.wo(out.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)  # gate
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)  # down
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)  # up

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TransformerBlock(nn.Module):
    def __init__(self, layer_id: int, args: ModelArgs):
        super().__init__()
        self.layer_id = layer_id
        self.attention = Attention(args)
        self.feed_forward = FeedForward(args.dim, ffn_hidden_dim(args))
        self.attention_norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, eps=args.norm_eps)

    def forward(self, x, start_pos, freqs_cis, mask=None):
        h = x + self.attention(self.attention_norm(x), start_pos, freqs_cis, mask)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        if args.vocab_size <= 0:
            raise ValueError(f"ModelArgs: vocab_size={args.vocab_size}; load_model takes it from the checkpoint")
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(TransformerBlock(i, args) for i in range(args.n_layers))
        self.norm = RMSNorm(args.dim, eps=args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        self.gradient_checkpointing = False  # recompute each layer in backward (long sequences on GPU)
        # RoPE table: a plain attribute, not a buffer, so it stays complex64 when the weights go bf16
        # and never enters the state dict. On the meta device it is made after loading.
        self.freqs_cis = None
        if self.output.weight.device.type != "meta":
            self.init_rope()

    def init_rope(self, device=None):
        a = self.args
        self.freqs_cis = precompute_freqs_cis(a.dim // a.n_heads, a.max_seq_len, a.rope_theta,
                                              a.use_scaled_rope).to(device or self.output.weight.device)

    def setup_cache(self, max_batch_size: int, max_seq_len: int):
        """Turn the KV cache on; forward then writes keys/values at start_pos and attends to the cache."""
        a, w = self.args, self.output.weight
        for layer in self.layers:
            shape = (max_batch_size, max_seq_len, a.n_kv_heads, a.dim // a.n_heads)
            layer.attention.cache_k = torch.zeros(shape, dtype=w.dtype, device=w.device)
            layer.attention.cache_v = torch.zeros(shape, dtype=w.dtype, device=w.device)

    def copy_cache_prefix(self, n: int, pad: torch.Tensor):
        """Copy cache slots 0..n - 1 of row 0 to slots pad[i]..pad[i] + n - 1 of every row i: a prefix
        prefilled once serves each left-padded row (its keys carry RoPE positions 0..n - 1, which are
        those positions in every row, whatever its padding)."""
        slots = pad[:, None] + torch.arange(n, device=pad.device)  # (B, n)
        rows = torch.arange(len(pad), device=pad.device)[:, None]
        for layer in self.layers:
            a = layer.attention
            a.cache_k[rows, slots] = a.cache_k[0, :n].clone()  # (n, kv, hd) broadcast over rows
            a.cache_v[rows, slots] = a.cache_v[0, :n].clone()

    def clear_cache(self):
        for layer in self.layers:
            layer.attention.cache_k = layer.attention.cache_v = None

    def forward_hidden(self, tokens: torch.Tensor, start_pos: int = 0,
                       pad: Optional[torch.Tensor] = None) -> torch.Tensor:
        """tokens (B, T) -> final-norm hidden states (B, T, dim). pad: see forward."""
        T = tokens.shape[1]
        if start_pos + T > self.args.max_seq_len:
            raise ValueError(f"sequence of {start_pos + T} tokens exceeds max_seq_len={self.args.max_seq_len}")
        if self.freqs_cis.device != tokens.device:
            self.init_rope(tokens.device)
        mask = None
        if pad is None:
            freqs_cis = self.freqs_cis[start_pos:start_pos + T]  # (T, hd/2)
        else:
            freqs_cis, mask = self.padded_rope_and_mask(start_pos, T, pad)
        h = self.tok_embeddings(tokens)
        for layer in self.layers:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                h = checkpoint(layer, h, start_pos, freqs_cis, mask, use_reentrant=False)
            else:
                h = layer(h, start_pos, freqs_cis, mask)
        return self.norm(h)

    def padded_rope_and_mask(self, start_pos, T: int, pad: torch.Tensor, S: Optional[int] = None):
        """RoPE table and attention mask for left-padded rows: row i's slots < pad[i] are padding.

        Slots start_pos..start_pos + T - 1 are queried (start_pos: int or a (1,) tensor); keys are
        slots 0..S - 1 (default start_pos + T). Returns freqs_cis (B, T, hd/2) at each row's own
        positions (slot - pad[i]) and mask (B, 1, T, S), True where query slot q may see key slot j:
        j <= q and j >= pad[i]. A padding query sees itself only, so no row of the softmax is empty
        (an all-False row would make SDPA return NaN); its output is never seen by a real token.
        """
        q = start_pos + torch.arange(T, device=pad.device)  # (T,) query slots
        j = torch.arange(start_pos + T if S is None else S, device=pad.device)  # (S,) key slots
        pos = (q[None, :] - pad[:, None]).clamp(min=0)  # (B, T)
        causal = j[None, :] <= q[:, None]  # (T, S)
        mask = causal & ((j[None, None, :] >= pad[:, None, None]) | (j[None, :] == q[:, None]))  # (B, T, S)
        return self.freqs_cis[pos], mask[:, None]

    def forward(self, tokens: torch.Tensor, start_pos: int = 0, output_mask: Optional[torch.Tensor] = None,
                pad: Optional[torch.Tensor] = None):
        """tokens (B, T) -> fp32 logits (B, T, vocab).

        output_mask (B, T) bool: project only those positions and return (N, vocab), N = mask.sum(),
        in row-major order. Training needs logits only on target tokens, and the 128k-vocabulary
        head is a large share of the compute and the memory.
        pad (B,) long: left padding. Row i's first pad[i] slots (of the cache, or of tokens when
        start_pos == 0) are padding: no token attends to them, and the row's positions count from
        0 at slot pad[i]. Each row then computes what it would alone (up to float rounding).
        """
        h = self.forward_hidden(tokens, start_pos, pad)
        if output_mask is not None:
            h = h[output_mask]
        return self.output(h).float()


# ----------------------------------------------------------------------------- loading


def load_model(ckpt_dir, device="cpu", dtype=torch.float32, **arg_overrides) -> Transformer:
    """Meta-layout directory (params.json + consolidated.00.pth) -> Transformer with those weights.

    Built on the meta device and filled with load_state_dict(assign=True) from a memory-mapped
    file, so the weights are never held twice: with a matching dtype on CPU the parameters are
    views of the mapped file. arg_overrides set runtime fields such as max_seq_len.
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        raise FileNotFoundError(f"{ckpt_dir}: checkpoint directory not found")
    shards = sorted(ckpt_dir.glob("consolidated.*.pth"))
    if len(shards) > 1:
        raise ValueError(f"{ckpt_dir}: {len(shards)} model-parallel shards (consolidated.00..{len(shards) - 1:02d}.pth); "
                         "only single-file checkpoints (Llama 3 8B and smaller) are supported")
    if not shards:
        raise FileNotFoundError(f"{ckpt_dir}: no consolidated.00.pth")
    path = shards[0]
    args = ModelArgs.from_json(ckpt_dir / "params.json", **arg_overrides)
    try:
        sd = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as e:  # truncated zip, pickle garbage, wrong format: say which file, not where torch failed
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: unreadable checkpoint, truncated or not a torch state dict ({reason})") from None
    if not isinstance(sd, dict) or "tok_embeddings.weight" not in sd:
        raise ValueError(f"{path}: not a Meta Llama state dict (no tok_embeddings.weight)")
    if args.vocab_size <= 0:
        args.vocab_size = sd["tok_embeddings.weight"].shape[0]

    with torch.device("meta"):
        model = Transformer(args)
    expected = model.state_dict()
    missing, unexpected = sorted(expected.keys() - sd.keys()), sorted(sd.keys() - expected.keys())
    if missing or unexpected:
        raise ValueError(f"{path}: keys do not match params.json: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                         f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}")
    for k, v in expected.items():
        if sd[k].shape != v.shape:
            raise ValueError(f"{path}: {k} has shape {tuple(sd[k].shape)} but params.json implies {tuple(v.shape)}")
    # A no-op for matching dtype on CPU (the mapped tensor itself); one tensor at a time otherwise.
    sd = {k: v.to(device=device, dtype=dtype) for k, v in sd.items()}
    model.load_state_dict(sd, strict=True, assign=True)
    model.init_rope(device)
    return model


# ----------------------------------------------------------------------------- tokenizer

# Meta's limits (llama_models/llama3/tokenizer.py): tiktoken handles at most 400k characters per call
# and panics on very long runs of whitespace or non-whitespace, so long text is cut into pieces.
TIKTOKEN_MAX_ENCODE_CHARS = 400_000
MAX_NO_WHITESPACES_CHARS = 25_000


def _split_long_runs(s: str, max_run: int) -> Iterator[str]:
    """Meta's _split_whitespaces_or_nonwhitespaces: cut every run of whitespace or of non-whitespace
    characters after each max_run characters. Same cut points, found with a regex instead of a Python
    loop over characters (re's \\s and str.isspace agree on what is whitespace)."""
    start = 0
    for run in re.finditer(r"\s+|\S+", s):
        for cut in range(run.start() + max_run, run.end(), max_run):
            yield s[start:cut]
            start = cut
    yield s[start:]


def _read_bpe_ranks(path: Path) -> Optional[dict]:
    """A tiktoken BPE file ('base64-token rank' per line) -> {token bytes: rank}; None if not that format."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None  # binary: a SentencePiece model
    ranks = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error):
            if not ranks:
                return None
            raise ValueError(f"{path}:{n}: expected 'base64-token rank', got {line[:40]!r}") from None
    return ranks or None


class Tokenizer:
    """Meta's tokenizer interface over three formats, told apart by the file itself:

    - Llama 3: tiktoken BPE ranks, Meta's pattern and 256 special tokens (ids equal Meta's reference);
    - a converted model (scripts/convert_gguf.py): tiktoken BPE ranks plus tokenizer_config.json beside
      it with the pattern, the special tokens and which of them are bos/eos/pad/stop;
    - Llama 2: a SentencePiece model.
    """

    pat_str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"  # noqa: E501
    num_reserved_special_tokens = 256

    def __init__(self, model_path):
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: tokenizer file not found")
        self.sp_model = self.model = None
        ranks = _read_bpe_ranks(path)
        if ranks is None:
            self._init_sentencepiece(path)
            return
        import tiktoken

        config_path = path.parent / "tokenizer_config.json"
        if config_path.is_file():
            cfg = json.loads(config_path.read_text())
            try:
                pat_str, self.special_tokens = cfg["pat_str"], dict(cfg["special_tokens"])
                names = (cfg["bos_token"], cfg["eos_token"], cfg["pad_token"], cfg["stop_tokens"])
                self.add_bos = bool(cfg["add_bos"])
            except KeyError as e:
                raise ValueError(f"{config_path}: missing key {e.args[0]!r}") from None
            ids = self.special_tokens
            unknown = [t for t in [*names[:3], *names[3]] if t not in ids]
            if unknown:
                raise ValueError(f"{config_path}: tokens {unknown} are not among its special_tokens")
            self.bos_id, self.eos_id, self.pad_id = (ids[t] for t in names[:3])
            self.stop_tokens = [ids[t] for t in names[3]]
            self.n_words = max(max(ranks.values()), *self.special_tokens.values()) + 1  # ids may have gaps
        else:  # Llama 3
            pat_str = self.pat_str
            special = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                       "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
                       "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>",
                       "<|python_tag|>", "<|image|>"]
            special += [f"<|reserved_special_token_{2 + i}|>"
                        for i in range(self.num_reserved_special_tokens - len(special))]
            self.special_tokens = {t: len(ranks) + i for i, t in enumerate(special)}
            self.n_words = len(ranks) + len(special)
            self.bos_id = self.special_tokens["<|begin_of_text|>"]
            self.eos_id = self.special_tokens["<|end_of_text|>"]
            self.pad_id = self.special_tokens["<|finetune_right_pad_id|>"]
            self.stop_tokens = [self.eos_id, self.special_tokens["<|eom_id|>"], self.special_tokens["<|eot_id|>"]]
            self.add_bos = True
        self.model = tiktoken.Encoding(name=path.name, pat_str=pat_str, mergeable_ranks=ranks,
                                       special_tokens=self.special_tokens)

    def _init_sentencepiece(self, path: Path):
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor()
        try:
            sp.Load(str(path))
        except (OSError, RuntimeError):
            raise ValueError(f"{path}: neither a tiktoken BPE file nor a SentencePiece model") from None
        self.sp_model = sp
        self.n_words = sp.vocab_size()
        self.bos_id, self.eos_id, self.pad_id = sp.bos_id(), sp.eos_id(), sp.pad_id()  # pad is -1 in Llama 2
        self.stop_tokens = [self.eos_id]
        self.special_tokens = {}
        self.add_bos = True

    def encode(self, s: str, *, bos: bool, eos: bool,
               allowed_special: Optional[Union[Literal["all"], AbstractSet[str]]] = None,
               disallowed_special: Union[Literal["all"], Collection[str]] = ()) -> List[int]:
        """Text -> ids. By default special-token text is encoded as plain text; allowed_special="all"
        turns it into the special ids (Meta's semantics)."""
        if not isinstance(s, str):
            raise TypeError(f"Tokenizer.encode expects str, got {type(s).__name__}")
        if self.sp_model is not None:
            t = self.sp_model.encode(s)
        else:
            t = []
            for i in range(0, len(s), TIKTOKEN_MAX_ENCODE_CHARS):
                for piece in _split_long_runs(s[i:i + TIKTOKEN_MAX_ENCODE_CHARS], MAX_NO_WHITESPACES_CHARS):
                    t.extend(self.model.encode(piece, allowed_special=allowed_special or set(),
                                               disallowed_special=disallowed_special))
        return [self.bos_id] * bos + t + [self.eos_id] * eos

    def decode(self, t: Sequence[int]) -> str:
        t = [int(i) for i in t]
        return self.sp_model.decode(t) if self.sp_model is not None else self.model.decode(t)


# ----------------------------------------------------------------------------- generation


def decode_step(model: Transformer, token: torch.Tensor, pos: torch.Tensor, pad: torch.Tensor,
                block=None) -> torch.Tensor:
    """One greedy step on a static KV cache: token (B, 1) goes to cache slot pos ((1,) long) of rows
    left-padded by pad (B,) -> next token (B,). Keys are the whole cache, with the slots after pos
    masked, so every shape is the same at every step (gpt-fast's decode_one_token).
    block(layer, h, pos, freqs_cis, mask) runs one layer: compiled_block() compiles a layer once and
    every layer reuses that code (regional compilation: minutes less than compiling the whole step)."""
    S = model.layers[0].attention.cache_k.shape[1]
    freqs_cis, mask = model.padded_rope_and_mask(pos, 1, pad, S)
    h = model.tok_embeddings(token)
    for layer in model.layers:
        h = (block or _run_block)(layer, h, pos, freqs_cis, mask)
    return model.output(model.norm(h[:, -1])).float().argmax(-1)


def _run_block(layer, h, pos, freqs_cis, mask):
    return layer(h, pos, freqs_cis, mask)


_compiled_block = None


def compiled_block():
    global _compiled_block
    if _compiled_block is None:
        _compiled_block = torch.compile(_run_block, dynamic=False)
    return _compiled_block


@torch.inference_mode()
def generate(model: Transformer, tokenizer: Tokenizer, prompts: Sequence[Union[str, Sequence[int]]],
             max_new_tokens: int, stop: Optional[Collection[int]] = None, compile: bool = False,
             share_prefix: bool = False) -> List[str]:
    """Batched greedy decoding with the KV cache; returns each prompt's completion, without the stop token.

    Prompts of different lengths are left-padded into one (B, L) buffer and prefilled in one forward
    pass; each row's positions start at its first real token and its padding is hidden from
    attention (Transformer.forward's pad), so each row sees exactly the tokens and positions it
    would see alone: batched output equals one-prompt-at-a-time output (the logits agree up to float
    rounding, as padding changes the matmul shapes). Then every row advances one token per step;
    a row that has stopped rides along until all have. Rows keep their order, so adapters set on
    the model (lora.py, per-row with row_index) apply as they are.

    compile=True runs the decode steps through decode_step with torch.compile'd layers on a static
    cache (fixed shapes: its length is rounded up to a multiple of 256, so different prompt lengths
    mostly share one compiled graph; a new batch size or length bucket compiles again). The first
    call compiles: 1-2 minutes on a 2-core CPU.

    share_prefix=True: the caller promises that every row runs the same weights (no per-row adapter).
    The prompts' longest common prefix (in SNI prompts, the task's definition) is then prefilled once
    as a batch of one and its keys and values copied into every row's cache; the prefill goes on from
    the first slot where some row's prompt differs. Same output up to float rounding, fewer tokens
    (eval.py batches one task's instances; bench/decode.py measures the gain on SNI).
    """
    prompt_tokens = [tokenizer.encode(p, bos=tokenizer.add_bos, eos=False) if isinstance(p, str) else list(p)
                     for p in prompts]
    if not prompt_tokens or min(len(p) for p in prompt_tokens) == 0:
        raise ValueError("generate: every prompt needs at least one token")
    stop_set = set(tokenizer.stop_tokens if stop is None else stop)
    B, max_seq_len = len(prompt_tokens), model.args.max_seq_len
    lens = [len(p) for p in prompt_tokens]
    L = max(lens)
    if L >= max_seq_len:
        raise ValueError(f"generate: a prompt of {L} tokens leaves no room within max_seq_len={max_seq_len}")
    total = min(max_seq_len, L + max_new_tokens)
    cache_len = min(max_seq_len, -(-total // 256) * 256) if compile else total
    device = model.output.weight.device

    tokens = torch.zeros(B, total, dtype=torch.long, device=device)  # padding holds id 0, never attended to
    for i, p in enumerate(prompt_tokens):
        tokens[i, L - len(p):L] = torch.tensor(p, dtype=torch.long)
    pad = torch.tensor([L - n for n in lens], dtype=torch.long, device=device)
    pad_or_none = pad if L > min(lens) else None  # equal lengths: plain causal attention
    stop_ids = torch.tensor(sorted(stop_set), dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    last = torch.zeros(B, L, dtype=torch.bool, device=device)
    last[:, -1] = True  # output_mask: logits at each row's last prompt token only
    block = compiled_block() if compile else None

    shared = common_prefix_len(prompt_tokens) if share_prefix and B > 1 else 0
    shared = min(shared, L - 1)  # the prefill below keeps at least each row's last prompt token

    model.setup_cache(B, cache_len)
    try:
        if shared >= 8:  # below that a separate pass costs more than it saves
            model.forward_hidden(torch.tensor([prompt_tokens[0][:shared]], device=device))  # cache row 0, slots 0..shared-1
            model.copy_cache_prefix(shared, pad)
            start = int(pad.min()) + shared  # the longest prompt's first unshared slot; shorter rows redo a few
            next_token = model(tokens[:, start:L], start_pos=start, output_mask=last[:, start:], pad=pad).argmax(-1)
        else:
            next_token = model(tokens[:, :L], output_mask=last, pad=pad_or_none).argmax(-1)  # (B,)
        end = L
        for cur in range(L, total):
            tokens[:, cur] = next_token
            end = cur + 1
            done |= torch.isin(next_token, stop_ids)
            if end == total or done.all():
                break
            x = next_token.view(B, 1)  # contiguous, unlike a column of tokens: one compiled graph
            if compile:
                next_token = decode_step(model, x, torch.tensor([cur], device=device), pad, block)
            else:
                next_token = model(x, start_pos=cur, pad=pad_or_none)[:, -1].argmax(-1)
    finally:
        model.clear_cache()

    out = []
    for completion in tokens[:, L:end].tolist():
        for j, t in enumerate(completion):
            if t in stop_set:
                completion = completion[:j]
                break
        out.append(tokenizer.decode(completion))
    return out


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix that every sequence starts with."""
    n = min(len(s) for s in seqs)
    for j in range(n):
        if any(s[j] != seqs[0][j] for s in seqs):
            return j
    return n


def chat_prompt(tokenizer: Tokenizer, user: str) -> List[int]:
    """One user turn in the model's own chat format: ChatML (converted SmolLM2) or Llama 3 headers."""
    if "<|im_start|>" in tokenizer.special_tokens:
        text = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    else:
        text = f"<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    return tokenizer.encode(text, bos=tokenizer.add_bos, eos=False, allowed_special="all")


if __name__ == "__main__":
    import argparse
    import sys

    p = argparse.ArgumentParser(description="Greedy chat completion with a Meta-layout checkpoint.")
    p.add_argument("--ckpt_dir", required=True, help="directory with params.json, consolidated.00.pth, tokenizer.model")
    p.add_argument("--prompt", action="append", required=True, help="a user message; repeat for a batch")
    p.add_argument("--max_new_tokens", type=int, default=64)
    p.add_argument("--adapter", help="a PEFT LoRA directory (lora.export_peft, hypernet.py --out) to apply")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    cli = p.parse_args()
    dtype = torch.bfloat16 if cli.device.startswith("cuda") else torch.float32  # no bf16 units on our CPUs
    try:
        model = load_model(cli.ckpt_dir, device=cli.device, dtype=dtype)
        tokenizer = Tokenizer(Path(cli.ckpt_dir) / "tokenizer.model")
        if cli.adapter:
            import lora  # lora imports model: only here, never at module level

            lora.load_peft(model, cli.adapter)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    for q, a in zip(cli.prompt, generate(model, tokenizer, [chat_prompt(tokenizer, q) for q in cli.prompt],
                                          cli.max_new_tokens)):
        print(f"> {q}\n{a.strip()}\n")
