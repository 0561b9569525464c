import json
import shutil

import pytest
import torch

from conftest import SNI_DIR, hf_llama, llama3_tokenizer_path, random_model
from model import ModelArgs, Tokenizer, ffn_hidden_dim, generate, load_model


# ----------------------------------------------------------------------------- parity with transformers

@pytest.mark.parametrize("params", [
    dict(n_heads=4, n_kv_heads=2),                                      # grouped-query attention
    dict(n_heads=4, n_kv_heads=4),                                      # plain multi-head attention
    dict(n_heads=4, n_kv_heads=1, use_scaled_rope=True),                # Llama 3.1 scaled RoPE, MQA
    dict(n_heads=2, n_kv_heads=2, rope_theta=10000.0, ffn_dim_multiplier=1.3),
], ids=["gqa", "mha", "scaled_rope", "llama2_rope_ffn_mult"])
def test_logits_match_transformers(tiny_ckpt, params):
    model = load_model(tiny_ckpt(**params))
    hf = hf_llama(model)
    tokens = torch.randint(0, model.args.vocab_size, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(tokens), hf(tokens).logits
    assert ours.shape == (3, 40, model.args.vocab_size) and ours.dtype == torch.float32
    assert (ours - theirs).abs().max().item() < 1e-4


def test_scaled_rope_changes_logits(tiny_ckpt):
    # guards the test above: if scaling were a no-op at these sizes it would prove nothing
    d = tiny_ckpt(use_scaled_rope=True)
    tokens = torch.randint(0, 256, (1, 200), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        scaled = load_model(d)(tokens)
        plain = load_model(d, use_scaled_rope=False)(tokens)
    assert (scaled - plain).abs().max().item() > 1e-3


def test_ffn_rule_matches_llama3_8b():
    args = ModelArgs(dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, vocab_size=128256, multiple_of=1024,
                     ffn_dim_multiplier=1.3, norm_eps=1e-5, rope_theta=500000.0)
    assert ffn_hidden_dim(args) == 14336


def test_output_mask_selects_positions(tiny_ckpt):
    model = load_model(tiny_ckpt())
    tokens = torch.randint(0, 256, (2, 12))
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[0, [3, 7]] = mask[1, 11] = True
    with torch.no_grad():
        full, picked = model(tokens), model(tokens, output_mask=mask)
    assert picked.shape == (3, 256)
    torch.testing.assert_close(picked, full[mask], rtol=0, atol=1e-6)


def test_gradient_checkpointing_same_grads(tiny_ckpt):
    model = load_model(tiny_ckpt())
    tokens = torch.randint(0, 256, (2, 16))
    grads = []
    for ckpt in (False, True):
        model.gradient_checkpointing = ckpt
        model.zero_grad()
        model(tokens).logsumexp(-1).mean().backward()
        grads.append(model.layers[0].attention.wq.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_bf16_forward_runs_and_keeps_rope_fp32(tiny_ckpt):
    model = load_model(tiny_ckpt(), dtype=torch.bfloat16)
    assert model.layers[0].attention.wq.weight.dtype == torch.bfloat16
    assert model.freqs_cis.dtype == torch.complex64
    ref = load_model(tiny_ckpt())
    tokens = torch.randint(0, 256, (1, 8))
    with torch.no_grad():
        assert (model(tokens) - ref(tokens)).abs().max() < 0.1


# ----------------------------------------------------------------------------- generation

def greedy_uncached(model, prompt, n, stop):
    """Reference greedy decoding: the whole sequence through forward at every step, no cache, no padding.
    Also returns the smallest top-1 minus top-2 logit gap met: a gap far above float rounding means
    another correct implementation (other matmul shapes) must pick the same tokens."""
    tokens, gap = list(prompt), float("inf")
    with torch.no_grad():
        for _ in range(n):
            top2 = model(torch.tensor([tokens]))[0, -1].topk(2)
            gap = min(gap, (top2.values[0] - top2.values[1]).item())
            t = top2.indices[0].item()
            if t in stop:
                break
            tokens.append(t)
    return tokens[len(prompt):], gap


class IdTokenizer:
    """ids in, ids out: generation tests need no real vocabulary"""
    add_bos, stop_tokens = False, [0]

    def decode(self, ids):
        return ",".join(map(str, ids))


def mixed_prompts(seed=4, lengths=(3, 11, 1, 7)):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, 256, (n,), generator=g).tolist() for n in lengths]


def left_pad(prompts):
    """(B, L) left-padded with id 0, and pad (B,): the layout generate() prefills."""
    L = max(map(len, prompts))
    tokens = torch.zeros(len(prompts), L, dtype=torch.long)
    for i, p in enumerate(prompts):
        tokens[i, L - len(p):] = torch.tensor(p)
    return tokens, torch.tensor([L - len(p) for p in prompts])


def test_kv_cache_generation_equals_uncached(tiny_ckpt):
    model = load_model(tiny_ckpt(), max_seq_len=64)
    prompt = torch.randint(1, 256, (9,), generator=torch.Generator().manual_seed(3)).tolist()
    expected, gap = greedy_uncached(model, prompt, 20, stop={0})
    (got,) = generate(model, IdTokenizer(), [prompt], max_new_tokens=20)
    assert got == ",".join(map(str, expected)) and len(expected) == 20
    assert gap > 1e-3


def test_left_padded_prefill_equals_each_row_alone(tiny_ckpt):
    """Batched prefill logits == per-row logits (1e-5), with and without the KV cache, and one cached
    decode step after it; padding rows stay finite. Without pad the padded rows differ (the guard)."""
    model = load_model(tiny_ckpt(seed=5), max_seq_len=64)
    prompts = mixed_prompts()
    tokens, pad = left_pad(prompts)
    B, L = tokens.shape
    with torch.no_grad():
        alone = [model(torch.tensor([p]))[0] for p in prompts]  # (len, vocab) each
        batched = model(tokens, pad=pad)
        model.setup_cache(B, L + 1)
        cached = model(tokens, pad=pad)
        nxt = cached[:, -1].argmax(-1)
        step = model(nxt[:, None], start_pos=L, pad=pad)[:, 0]  # (B, vocab)
        model.clear_cache()
        unpadded = model(tokens)
    assert torch.isfinite(batched).all() and torch.isfinite(cached).all()
    for i, p in enumerate(prompts):
        n = len(p)
        assert (batched[i, L - n:] - alone[i]).abs().max() < 1e-5
        assert (cached[i, L - n:] - alone[i]).abs().max() < 1e-5
        with torch.no_grad():
            ref = model(torch.tensor([p + [nxt[i].item()]]))[0, -1]
        assert (step[i] - ref).abs().max() < 1e-5
    assert (unpadded[0, L - 3:] - alone[0]).abs().max() > 1e-2  # padding does matter when not masked


def test_batched_generation_equals_unbatched(tiny_ckpt):
    model = load_model(tiny_ckpt(seed=5), max_seq_len=64)
    prompts = mixed_prompts()
    # stop on a token some rows produce, so rows finish at different steps
    stop = {int(greedy_uncached(model, prompts[1], 3, stop=set())[0][-1])}
    refs = [greedy_uncached(model, p, 12, stop) for p in prompts]
    assert min(gap for _, gap in refs) > 1e-3  # greedy is robust to rounding on these prompts
    single = [generate(model, IdTokenizer(), [p], 12, stop=stop)[0] for p in prompts]
    batched = generate(model, IdTokenizer(), prompts, 12, stop=stop)
    assert batched == single == [",".join(map(str, r)) for r, _ in refs]
    assert single[1].count(",") == 1  # row 1 stopped at its 3rd token
    assert max(s.count(",") for s in single) == 11  # some row ran to max_new_tokens
    assert generate(model, IdTokenizer(), prompts[::-1], 12, stop=stop) == batched[::-1]  # rows keep order


def test_shared_prefix_prefilled_once_equals_unshared(tiny_ckpt):
    """share_prefix: the common prefix goes through the model once (a batch of one), then only the
    slots where rows differ; tokens equal unshared decoding and each row alone. Rows: suffixes of
    different lengths, one prompt that is the prefix itself, and one 1-token suffix."""
    model = load_model(tiny_ckpt(seed=5), max_seq_len=64)
    prefix = mixed_prompts(seed=9, lengths=(12,))[0]
    prompts = [prefix + s for s in mixed_prompts(seed=4, lengths=(3, 11, 0, 7, 1))]
    refs = [greedy_uncached(model, p, 10, stop=set()) for p in prompts]
    assert min(gap for _, gap in refs) > 1e-3  # greedy is robust to rounding on these prompts
    calls, fh = [], model.forward_hidden
    model.forward_hidden = lambda t, *a, **k: calls.append(tuple(t.shape)) or fh(t, *a, **k)
    shared = generate(model, IdTokenizer(), prompts, 10, stop=set(), share_prefix=True)
    assert calls[:2] == [(1, 12), (5, 11)]  # the prefix once, then the longest suffix's 11 slots
    assert shared == generate(model, IdTokenizer(), prompts, 10, stop=set()) == [",".join(map(str, r)) for r, _ in refs]
    assert calls[-10] == (5, 23)  # unshared: the whole padded prompt
    calls.clear()  # too short a common prefix (4 < 8 tokens): one plain prefill
    generate(model, IdTokenizer(), [prefix[:4] + p for p in mixed_prompts()], 2, stop=set(), share_prefix=True)
    assert calls[0] == (4, 15)


def compile_skip_reason():
    import shutil
    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile (dynamo) is not supported on this Python / torch {torch.__version__}"
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        return "no C++ compiler on PATH: torch.compile's CPU backend (inductor) needs one"
    return None


@pytest.mark.slow
@pytest.mark.skipif(compile_skip_reason() is not None, reason=str(compile_skip_reason()))
def test_compiled_decoding_equals_eager(tiny_ckpt):
    """generate(compile=True): static cache + torch.compile'd decode_step, token for token as eager.
    Slow: the first compile took 85-105 s on 2 busy cores with an empty inductor cache (~20 s cached)."""
    model = load_model(tiny_ckpt(seed=5, n_layers=1), max_seq_len=64)
    prompts = mixed_prompts()
    refs = [greedy_uncached(model, p, 12, stop=set()) for p in prompts]
    assert min(gap for _, gap in refs) > 1e-3
    stop = {refs[1][0][2]}  # rows stop at different steps
    eager = generate(model, IdTokenizer(), prompts, 12, stop=stop)
    assert generate(model, IdTokenizer(), prompts, 12, stop=stop, compile=True) == eager
    assert generate(model, IdTokenizer(), prompts, 12, stop=set(), compile=True) == \
        [",".join(map(str, r)) for r, _ in refs]
    assert len({e.count(",") for e in eager}) > 1


# ----------------------------------------------------------------------------- tokenizer

def tokenizer_corpus():
    texts = ["", " ", "hello world", "Hello, World! 123 4567 89", "  leading and trailing  ", "tabs\tand\nnew\r\nlines\n\n\n",
             "naïve café — “quotes” ½ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀👍🏽 日本語のテキスト 한국어 العربية עברית",
             "I'm you're it's WE'LL they'D", "<|begin_of_text|>plain text<|eot_id|>", "\ufeffBOM inside\ufeffsentence",
             "a" * 60_000, " " * 30_000 + "x", "ab " * 150_000, "x" * 25_000 + " " * 25_001 + "y" * 50_001,
             "0123456789" * 45_000]
    if SNI_DIR.is_dir():
        for f in sorted((SNI_DIR / "tasks").glob("*.json"))[::4]:
            task = json.loads(f.read_text())
            texts.append(task["Definition"][0])
            texts.extend(str(i["input"]) + " " + str(i["output"][0]) for i in task["Instances"][:3])
    return texts


def test_tokenizer_matches_meta_reference():
    ref_mod = pytest.importorskip("llama_models.llama3.tokenizer", reason="Meta's reference tokenizer")
    ref, ours = ref_mod.Tokenizer(llama3_tokenizer_path()), Tokenizer(llama3_tokenizer_path())
    corpus = tokenizer_corpus()
    assert max(map(len, corpus)) > 400_000
    for text in corpus:
        for bos, eos in ((True, False), (False, True)):
            assert ours.encode(text, bos=bos, eos=eos) == ref.encode(text, bos=bos, eos=eos), text[:60]
        assert ours.encode(text, bos=False, eos=False, allowed_special="all") == \
            ref.encode(text, bos=False, eos=False, allowed_special="all")
    ids = ours.encode("<|start_header_id|>user<|end_header_id|>", bos=True, eos=False, allowed_special="all")
    assert ids == [128000, 128006, 882, 128007]
    assert ours.decode(ids) == ref.decode(ids) == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>"
    assert (ours.bos_id, ours.eos_id, ours.pad_id, ours.n_words) == (128000, 128001, 128004, 128256)
    assert ours.stop_tokens == ref.stop_tokens
    assert ours.special_tokens == ref.special_tokens


def test_tokenizer_golden_ids():
    tok = Tokenizer(llama3_tokenizer_path())
    assert tok.encode("hello world", bos=True, eos=False) == [128000, 15339, 1917]
    with pytest.raises(ValueError, match="disallowed special token"):
        tok.encode("<|eot_id|>", bos=False, eos=False, disallowed_special="all")


def test_sentencepiece_llama2_tokenizer(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(f"the quick brown fox {i} jumps over the lazy dog number {i * 7}" for i in range(300)))
    spm.SentencePieceTrainer.Train(input=str(text), model_prefix=str(tmp_path / "sp"), vocab_size=100,
                                   model_type="bpe", bos_id=1, eos_id=2, unk_id=0, pad_id=-1)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "sp.model"))
    tok = Tokenizer(tmp_path / "sp.model")
    s = "the lazy fox jumps 42"
    assert tok.encode(s, bos=True, eos=True) == [1] + sp.encode(s) + [2]
    assert tok.decode(tok.encode(s, bos=False, eos=False)) == s
    assert (tok.n_words, tok.bos_id, tok.eos_id, tok.pad_id) == (100, 1, 2, -1)


def test_llama2_params_json(tmp_path, tiny_ckpt):
    # Llama 2 writes no n_kv_heads and vocab_size -1; its RoPE base is 10000
    d = tiny_ckpt(n_heads=4, n_kv_heads=4, rope_theta=10000.0)
    params = json.loads((d / "params.json").read_text())
    del params["n_kv_heads"], params["rope_theta"]
    params["vocab_size"] = -1
    (d / "params.json").write_text(json.dumps(params))
    model = load_model(d)
    assert (model.args.vocab_size, model.args.n_kv_heads, model.args.rope_theta) == (256, 4, 10000.0)


# ----------------------------------------------------------------------------- bad input: one-line errors

def one_line(excinfo):
    msg = str(excinfo.value)
    assert "\n" not in msg and msg
    return msg


def test_errors(tmp_path, tiny_ckpt):
    with pytest.raises(FileNotFoundError) as e:
        load_model(tmp_path / "nope")
    assert "checkpoint directory not found" in one_line(e)

    d = tiny_ckpt()
    (d / "params.json").rename(d / "p.json")
    with pytest.raises(FileNotFoundError) as e:
        load_model(d)
    assert "params.json not found" in one_line(e)

    d = tiny_ckpt()
    (d / "consolidated.00.pth").unlink()
    with pytest.raises(FileNotFoundError) as e:
        load_model(d)
    assert "no consolidated.00.pth" in one_line(e)

    d = tiny_ckpt()
    params = json.loads((d / "params.json").read_text())
    (d / "params.json").write_text(json.dumps({**params, "n_experts": 8, "hidden": 1}))
    with pytest.raises(ValueError) as e:
        load_model(d)
    assert "unknown keys ['hidden', 'n_experts']" in one_line(e)

    d = tiny_ckpt()
    (d / "params.json").write_text(json.dumps({**params, "dim": 128}))
    with pytest.raises(ValueError) as e:
        load_model(d)
    msg = one_line(e)
    assert "tok_embeddings.weight has shape (256, 64) but params.json implies (256, 128)" in msg

    d = tiny_ckpt()
    (d / "params.json").write_text("{\"dim\": 64,")
    with pytest.raises(ValueError) as e:
        load_model(d)
    assert "params.json: not valid JSON" in one_line(e)

    d = tiny_ckpt()
    blob = (d / "consolidated.00.pth").read_bytes()
    (d / "consolidated.00.pth").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError) as e:
        load_model(d)
    assert "consolidated.00.pth: unreadable checkpoint, truncated" in one_line(e)

    d = tiny_ckpt()
    shutil.copy(d / "consolidated.00.pth", d / "consolidated.01.pth")
    with pytest.raises(ValueError) as e:
        load_model(d)
    assert "2 model-parallel shards" in one_line(e) and "only single-file" in str(e.value)

    with pytest.raises(FileNotFoundError) as e:
        Tokenizer(tmp_path / "tokenizer.model")
    assert "tokenizer file not found" in one_line(e)
    (tmp_path / "garbage.model").write_bytes(b"\x00\xff not a tokenizer" * 10)
    with pytest.raises(ValueError) as e:
        Tokenizer(tmp_path / "garbage.model")
    assert "neither a tiktoken BPE file nor a SentencePiece model" in one_line(e)
