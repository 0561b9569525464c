"""Shared fixtures: tiny random checkpoints in Meta's layout, the real Llama 3 tokenizer, the SNI data,
and a transformers LlamaForCausalLM built from our weights (the independent reference)."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from model import ModelArgs, Transformer, ffn_hidden_dim

ROOT = Path(__file__).resolve().parents[1]
SNI_DIR = ROOT.parent / "shared" / "data" / "sni"  # CI lays shared/ beside the clone
DEMO_CKPT = ROOT / "checkpoints" / "smollm2-135m"


def llama3_tokenizer_path() -> Path:
    llama_models = pytest.importorskip("llama_models", reason="llama-models ships the real Llama 3 tokenizer.model")
    return Path(llama_models.__file__).parent / "llama3" / "tokenizer.model"


TINY = dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=256, multiple_of=32,
            norm_eps=1e-5, rope_theta=500000.0)


def random_model(seed: int = 0, **params) -> Transformer:
    """A tiny Transformer with random weights, norm weights included (all ones would hide bugs)."""
    torch.manual_seed(seed)
    model = Transformer(ModelArgs(**{**TINY, **params}))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    return model


def write_byte_tokenizer(ckpt_dir: Path):
    """A byte-level tokenizer in the converted-model format (tiktoken ranks + tokenizer_config.json):
    ids 0-255 are the bytes, 256-258 are bos/eos/pad. Lets tiny models (vocab 272) run real SNI text."""
    import base64
    (ckpt_dir / "tokenizer.model").write_text("".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256)))
    (ckpt_dir / "tokenizer_config.json").write_text(json.dumps({
        "pat_str": r"\s+|\S+", "special_tokens": {"<s>": 256, "</s>": 257, "<pad>": 258},
        "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "stop_tokens": ["</s>"], "add_bos": True}))


def make_tiny_ckpt(ckpt_dir, seed: int = 0, tokenizer=False, dtype=torch.float32, **params) -> Path:
    """Write a random checkpoint in Meta's layout: params.json + consolidated.00.pth, and tokenizer.model:
    tokenizer=True copies the real Llama 3 one (pass vocab_size=128256), "bytes" writes a byte-level one."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    params = {**TINY, **params}
    model = random_model(seed, **params)
    torch.save({k: v.to(dtype) for k, v in model.state_dict().items()}, ckpt_dir / "consolidated.00.pth")
    (ckpt_dir / "params.json").write_text(json.dumps(params))
    if tokenizer == "bytes":
        write_byte_tokenizer(ckpt_dir)
    elif tokenizer:
        shutil.copy(llama3_tokenizer_path(), ckpt_dir / "tokenizer.model")
    return ckpt_dir


def meta_to_hf(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Permute wq/wk rows from Meta's interleaved RoPE pairs to transformers' rotate-half halves."""
    out, inp = w.shape
    return w.view(n_heads, out // n_heads // 2, 2, inp).transpose(1, 2).reshape(out, inp)


def hf_llama(model: Transformer):
    """transformers' LlamaForCausalLM holding the same weights as our model (q/k rows permuted)."""
    transformers = pytest.importorskip("transformers", reason="transformers is the independent reference")
    a = model.args
    rope = {"rope_type": "default", "rope_theta": a.rope_theta}
    if a.use_scaled_rope:
        rope = {"rope_type": "llama3", "rope_theta": a.rope_theta, "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    cfg = transformers.LlamaConfig(
        vocab_size=a.vocab_size, hidden_size=a.dim, intermediate_size=ffn_hidden_dim(a),
        num_hidden_layers=a.n_layers, num_attention_heads=a.n_heads, num_key_value_heads=a.n_kv_heads,
        rms_norm_eps=a.norm_eps, rope_parameters=rope,
        # llama3 scaling asks for a context beyond the original 8192; it does not change the math
        max_position_embeddings=max(a.max_seq_len, 16384 if a.use_scaled_rope else 0),
        tie_word_embeddings=False, attention_bias=False)
    hf = transformers.LlamaForCausalLM(cfg).eval()
    names = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
             "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
             "feed_forward.w1": "mlp.gate_proj", "feed_forward.w3": "mlp.up_proj",
             "feed_forward.w2": "mlp.down_proj", "attention_norm": "input_layernorm",
             "ffn_norm": "post_attention_layernorm"}
    sd = {"model.embed_tokens.weight": model.tok_embeddings.weight, "model.norm.weight": model.norm.weight,
          "lm_head.weight": model.output.weight}
    for i, layer in enumerate(model.layers):
        for ours, theirs in names.items():
            w = layer.get_submodule(ours).weight
            if ours == "attention.wq":
                w = meta_to_hf(w, a.n_heads)
            elif ours == "attention.wk":
                w = meta_to_hf(w, a.n_kv_heads)
            sd[f"model.layers.{i}.{theirs}.weight"] = w
    hf.load_state_dict({k: v.detach().clone().float() for k, v in sd.items()}, strict=True)
    return hf


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matmuls gain nothing from a second thread, and on a shared 2-core machine a busy core
    makes the OpenMP threads spin-wait for each other (measured 10-50x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tiny_ckpt(tmp_path):
    """Factory: tiny_ckpt(**params) -> a fresh Meta-layout directory under tmp_path."""
    counter = iter(range(1000))
    return lambda **kw: make_tiny_ckpt(tmp_path / f"ckpt{next(counter)}", **kw)


@pytest.fixture(scope="session")
def sni_dir():
    if not (SNI_DIR / "tasks").is_dir():
        pytest.skip(f"SNI subset not found at {SNI_DIR} (it lives in ../shared/data/sni beside the checkout)")
    return SNI_DIR


@pytest.fixture(scope="session")
def demo_ckpt():
    """The converted SmolLM2-135M-Instruct (make demo-ckpt); converted here once if missing."""
    if not (DEMO_CKPT / "consolidated.00.pth").is_file():
        import subprocess
        import sys
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_gguf.py"), "--out", str(DEMO_CKPT)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"converting the demo checkpoint failed: {r.stderr.strip()}")
    return DEMO_CKPT
