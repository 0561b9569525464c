import json

import pytest
import torch

import lora
from conftest import hf_llama, random_model
from model import load_model

KINDS = ["lightweight", "plain"]
LORA = dict(rank=4, a=16, b=16, alpha=8.0)  # tiny model: dim 64, kv out 32, ffn 192


def tokens(B=3, T=9, seed=0):
    return torch.randint(0, 256, (B, T), generator=torch.Generator().manual_seed(seed))


def random_adapters(model, N, seed=0, std=0.3):
    """External (A, B) per module with task dim N, B non-zero (a real adapter)."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(N, m.rank, m.a, generator=g) * std, torch.randn(N, m.b, m.rank, generator=g) * std)
            for _, m in lora.lora_modules(model)]


@pytest.mark.parametrize("kind", KINDS)
def test_inject_keeps_base_keys_and_zero_adapter_is_exact(tiny_ckpt, kind):
    ckpt = tiny_ckpt()
    model = load_model(ckpt)
    x = tokens()
    base = model(x)
    keys, wq = set(model.state_dict()), model.layers[0].attention.wq.weight
    lora.inject(model, kind, **LORA)
    assert len(lora.lora_modules(model)) == 2 * 7
    assert set(model.state_dict()) == keys  # aux buffers are non-persistent, external weights are not state
    assert model.layers[0].attention.wq.weight is wq
    assert not any(p.requires_grad for p in model.parameters())
    # the Meta checkpoint still loads strict=True into the injected model, no key map
    model.load_state_dict(torch.load(ckpt / "consolidated.00.pth", weights_only=True), strict=True)

    assert torch.equal(model(x), base)  # no adapter set
    zero_b = [(A, torch.zeros_like(B)) for A, B in random_adapters(model, 2)]
    lora.set_weights(model, zero_b, torch.tensor([1, 0, 1]))
    assert torch.equal(model(x), base)  # exactly: y + s * 0
    lora.set_weights(model, random_adapters(model, 1))
    assert (model(x) - base).abs().max() > 1e-2
    with lora.disabled(model):
        assert torch.equal(model(x), base)
    lora.clear_weights(model)
    assert torch.equal(model(x), base)

    owned = lora.inject(load_model(ckpt), kind, n_tasks=3, **LORA)  # LoRA's init: B = 0
    assert torch.equal(owned(x), base)
    assert set(owned.state_dict()) - keys == {f"{n}.lora_{s}" for n, _ in lora.lora_modules(owned) for s in "AB"}


def test_aux_matrices_frozen_orthonormal_shared_and_seeded():
    model = lora.inject(random_model(), "lightweight", rank=4, a=16, b=48)
    mods = dict(lora.lora_modules(model))
    q0, q1, k0 = mods["layers.0.attention.wq"], mods["layers.1.attention.wq"], mods["layers.0.attention.wk"]
    assert q0.A_aux is q1.A_aux and q0.B_aux is q1.B_aux  # one tensor per module type
    assert q0.A_aux.shape == (16, 64) and q0.B_aux.shape == (64, 48) and k0.B_aux.shape == (32, 48)
    assert torch.allclose(q0.A_aux @ q0.A_aux.T, torch.eye(16), atol=1e-5)  # orthonormal rows
    assert torch.allclose(q0.B_aux.T @ q0.B_aux, torch.eye(48), atol=1e-5)  # orthonormal columns
    assert torch.allclose(k0.B_aux @ k0.B_aux.T, torch.eye(32), atol=1e-5)  # b > out: orthonormal rows
    assert not any("aux" in k for k in model.state_dict())
    assert not any("aux" in n for n, _ in model.named_parameters())
    again = dict(lora.lora_modules(lora.inject(random_model(), "lightweight", rank=4, a=16, b=48)))
    other = dict(lora.lora_modules(lora.inject(random_model(), "lightweight", rank=4, a=16, b=48, seed=1)))
    assert torch.equal(again["layers.0.attention.wq"].A_aux, q0.A_aux)
    assert not torch.allclose(other["layers.0.attention.wq"].A_aux, q0.A_aux)
    assert not torch.allclose(mods["layers.0.feed_forward.w1"].A_aux, q0.A_aux)  # per type


@pytest.mark.parametrize("kind", KINDS)
def test_merge_equals_unmerged_and_unmerge_restores(kind):
    model = lora.inject(random_model(), kind, n_tasks=2, **LORA)
    with torch.no_grad():
        for p in lora.lora_parameters(model):
            p.normal_(0, 0.1)
    x = tokens()
    w0 = [m.weight.clone() for _, m in lora.lora_modules(model)]
    with lora.disabled(model):
        base = model(x)
    lora.select(model, torch.tensor([1, 1, 1]))
    ref = model(x)
    assert (ref - base).abs().max() > 1e-2
    lora.merge(model, task=1)
    assert (model(x) - ref).abs().max() < 1e-5
    assert any((m.weight - w).abs().max() > 1e-3 for (_, m), w in zip(lora.lora_modules(model), w0))
    lora.unmerge(model)
    for (_, m), w in zip(lora.lora_modules(model), w0):
        assert (m.weight - w).abs().max() < 1e-6
    assert (model(x) - ref).abs().max() < 1e-5  # side path active again


@pytest.mark.parametrize("kind", KINDS)
def test_per_row_adapters_equal_each_row_alone(kind):
    model = lora.inject(random_model(), kind, **LORA)
    x, rows = tokens(B=4), torch.tensor([2, 0, 1, 2])
    ad = random_adapters(model, 3)
    lora.set_weights(model, ad, rows)
    batched = model(x)
    for i, t in enumerate(rows.tolist()):
        lora.set_weights(model, [(A[t:t + 1], B[t:t + 1]) for A, B in ad])
        assert (batched[i] - model(x[i:i + 1])[0]).abs().max() < 1e-5
    assert (batched[0] - batched[3]).abs().max() > 0 and (batched[1] - batched[2]).abs().max() > 0
    lora.set_weights(model, [(A[rows], B[rows]) for A, B in ad])  # N == batch: row i is task i
    assert (model(x) - batched).abs().max() < 1e-5

    bank = lora.inject(random_model(), kind, n_tasks=3, **LORA)  # owned bank, same weights
    with torch.no_grad():
        for (_, m), (A, B) in zip(lora.lora_modules(bank), ad):
            m.lora_A.copy_(A)
            m.lora_B.copy_(B)
    lora.select(bank, rows)
    assert (bank(x) - batched).abs().max() < 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_mixed_task_generation_equals_one_task_at_a_time(kind):
    """generate() on a batch mixing tasks (per-row adapters, prompts of mixed lengths) == each
    prompt generated alone with its task's adapter, token for token."""
    from model import generate
    from test_model import IdTokenizer, mixed_prompts

    model = lora.inject(random_model(5, max_seq_len=64), kind, **LORA)
    prompts, rows = mixed_prompts(), torch.tensor([2, 0, 1, 2])
    ad = random_adapters(model, 3)
    lora.set_weights(model, ad, rows)
    batched = generate(model, IdTokenizer(), prompts, 10, stop=set())
    alone = []
    for p, t in zip(prompts, rows.tolist()):
        lora.set_weights(model, [(A[t:t + 1], B[t:t + 1]) for A, B in ad])
        alone.append(generate(model, IdTokenizer(), [p], 10, stop=set())[0])
    assert batched == alone
    lora.set_weights(model, ad, torch.tensor([1, 1, 1, 1]))
    assert generate(model, IdTokenizer(), prompts, 10, stop=set()) != batched  # the adapters matter


def test_owned_bank_trains_only_adapters():
    model = lora.inject(random_model(), "plain", n_tasks=2, **LORA)
    base = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    params = lora.lora_parameters(model)
    assert len(params) == 2 * 14 and all(p.requires_grad for p in params)
    opt = torch.optim.AdamW(params, lr=1e-2)
    x = tokens(B=2)
    lora.select(model, torch.tensor([0, 1]))
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    assert all(p.grad is None for n, p in model.named_parameters() if "lora_" not in n)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in base.items())
    sd = lora.lora_state_dict(model)
    fresh = lora.inject(random_model(), "plain", n_tasks=2, **LORA)
    lora.load_lora_state_dict(fresh, sd)
    lora.select(fresh, torch.tensor([0, 1]))
    assert torch.equal(fresh(x), model(x))


@pytest.mark.parametrize("kind", KINDS)
def test_export_peft_round_trip(tmp_path, kind):
    peft = pytest.importorskip("peft", reason="peft is the independent consumer of the export")
    model = random_model()
    hf = hf_llama(model)  # same weights, q/k rows in transformers' rotary order
    lora.inject(model, kind, **LORA)
    ad = random_adapters(model, 2)
    lora.set_weights(model, ad)
    lora.export_peft(model, tmp_path, model.args, task=1)

    cfg = json.loads((tmp_path / "adapter_config.json").read_text())
    assert cfg["r"] == 4 and cfg["lora_alpha"] / cfg["r"] == lora.lora_modules(model)[0][1].scale
    x = tokens()
    lora.set_weights(model, [(A[1:], B[1:]) for A, B in ad])
    with torch.no_grad():
        ours = model(x)
        with lora.disabled(model):
            base = model(x)
        theirs = peft.PeftModel.from_pretrained(hf, str(tmp_path)).eval()(x).logits
    assert (ours - base).abs().max() > 1e-2  # the adapter matters
    assert (ours - theirs).abs().max() < 1e-4


def test_bf16_model_runs_adapter_math_in_bf16():
    model = random_model()
    x = tokens()
    lora.inject(model, "lightweight", **LORA)
    ad = random_adapters(model, 3, std=0.1)
    lora.set_weights(model, ad, torch.tensor([0, 1, 2]))
    ref = model(x)
    model.to(torch.bfloat16)
    mods = lora.lora_modules(model)
    assert mods[0][1].A_aux.dtype == torch.bfloat16  # .to() casts buffers; the math follows x anyway
    out = model(x)  # fp32 adapters, bf16 activations
    assert out.dtype == torch.float32 and (out - ref).abs().max() < 0.1 * ref.abs().max()
    lora.set_weights(model, [(A, torch.zeros_like(B)) for A, B in ad], torch.tensor([0, 1, 2]))
    with lora.disabled(model):
        base = model(x)
    assert torch.equal(model(x), base)


# ----------------------------------------------------------------------------- load_peft: the inverse of export_peft

def hypernet_export(tmp_path, text="Spell the word backwards."):
    """A hypernetwork-adapted tiny model, its adapter exported as PEFT -> (model with the adapter set, dir)."""
    from hypernet import HyperNetConfig, HyperNetwork, export_from_text
    from test_hypernet import SMALL, TEXTS, ByteTokenizer

    model = random_model()
    torch.manual_seed(0)
    hn = HyperNetwork(HyperNetConfig(**SMALL), model.args)
    hn.inject(model)
    torch.nn.init.normal_(hn.head.weight)
    hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    export_from_text(hn, model, ByteTokenizer(), text, tmp_path, model.args)
    with torch.no_grad():
        lora.set_weights(model, hn.adapters(hn(hn.encode_tasks(model, ByteTokenizer(), [text]))))
    return model, tmp_path


def test_load_peft_reproduces_hypernetwork_adapted_logits(tmp_path):
    adapted_model, peft_dir = hypernet_export(tmp_path)
    x = tokens()
    with torch.no_grad():
        adapted = adapted_model(x)
        with lora.disabled(adapted_model):
            base = adapted_model(x)
    model = lora.load_peft(random_model(), peft_dir)  # a fresh base model, no hypernetwork
    cfg = lora.lora_config(model)
    assert (cfg["kind"], cfg["rank"], cfg["alpha"], cfg["n_tasks"], cfg["targets"]) == \
        ("plain", 4, 8.0, 1, list(lora.TARGETS))
    with torch.no_grad():
        got = model(x)
    assert (adapted - base).abs().max() > 1e-2  # the adapter matters
    assert (got - adapted).abs().max() < 1e-4
    # the rotary permutation is undone: wq/wk B rows equal the hypernetwork's effective B exactly
    for (_, m), (_, ref) in zip(lora.lora_modules(model), lora.lora_modules(adapted_model)):
        A, B = lora.task_delta(ref)
        assert torch.allclose(m.lora_A[0], A, atol=1e-6) and torch.allclose(m.lora_B[0], B, atol=1e-6)
    lora.merge(model)  # a loaded adapter merges like any other
    with torch.no_grad():
        assert (model(x) - adapted).abs().max() < 1e-4


def test_load_peft_errors(tmp_path):
    from safetensors.torch import load_file, save_file
    from test_model import one_line

    _, peft_dir = hypernet_export(tmp_path / "ok")

    def broken(name, config=None, tensors=None):
        d = tmp_path / name
        d.mkdir()
        cfg = json.loads((peft_dir / "adapter_config.json").read_text())
        (d / "adapter_config.json").write_text(json.dumps({**cfg, **(config or {})}))
        save_file(tensors if tensors is not None else load_file(peft_dir / "adapter_model.safetensors"),
                  d / "adapter_model.safetensors")
        return d

    cases = [
        (tmp_path / "nope", FileNotFoundError, "nope: PEFT adapter directory not found"),
        (broken("rslora", {"use_rslora": True}), ValueError, "use_rslora=True is not supported"),
        (broken("regex", {"target_modules": ".*proj"}), ValueError, "target_modules='.*proj'; expected a list"),
        (broken("unknown", {"target_modules": ["q_proj", "qkv_proj", "lm_head"]}), ValueError,
         "unknown target modules ['lm_head', 'qkv_proj']; Llama's linears are"),
    ]
    sd = load_file(peft_dir / "adapter_model.safetensors")
    cases.append((broken("partial", tensors={k: v for k, v in sd.items() if ".layers.1." not in k}), ValueError,
                  "no base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight for layers.1.attention.wq "
                  "(the base model has 2 layers)"))
    extra = {**sd, "base_model.model.model.layers.2.mlp.up_proj.lora_A.weight": torch.zeros(4, 64)}
    cases.append((broken("deeper", tensors=extra), ValueError, "1 tensors the base model has no place for"))
    missing_file = broken("nofile")
    (missing_file / "adapter_model.safetensors").unlink()
    cases.append((missing_file, FileNotFoundError, "nofile/adapter_model.safetensors: not found"))
    truncated = broken("truncated")
    blob = (truncated / "adapter_model.safetensors").read_bytes()
    (truncated / "adapter_model.safetensors").write_bytes(blob[: len(blob) // 2])
    cases.append((truncated, ValueError, "adapter_model.safetensors: unreadable safetensors file"))
    for d, exc, msg in cases:
        model = random_model()
        with pytest.raises(exc) as e:
            lora.load_peft(model, d)
        assert msg in one_line(e), d
        assert not lora.lora_modules(model)  # nothing injected on error

    wide = random_model(dim=128)  # another base model: every shape differs, the first is named
    with pytest.raises(ValueError) as e:
        lora.load_peft(wide, peft_dir)
    assert ("layers.0.attention.wq (self_attn.q_proj): the adapter (A (4, 64), B (64, 4)) fits a (64, 64) "
            "weight, the base model's is (128, 128)") in one_line(e)


def test_model_cli_with_adapter(tmp_path):
    """python model.py --ckpt_dir ... --adapter DIR --prompt ...: the adapted model's answer, no transformers."""
    import subprocess
    import sys

    from conftest import ROOT, make_tiny_ckpt
    from model import Tokenizer, chat_prompt, generate

    ckpt = make_tiny_ckpt(tmp_path / "base", tokenizer="bytes", vocab_size=259)  # bytes + 3 specials
    model = lora.inject(load_model(ckpt), "lightweight", n_tasks=1, **LORA)
    with torch.no_grad():
        for p in lora.lora_parameters(model):
            p.normal_(0, 0.5)
    lora.export_peft(model, tmp_path / "adapter", model.args)
    tok = Tokenizer(ckpt / "tokenizer.model")
    prompt = chat_prompt(tok, "Name a colour.")
    adapted = generate(lora.load_peft(load_model(ckpt), tmp_path / "adapter"), tok, [prompt], 8)[0]
    base = generate(load_model(ckpt), tok, [prompt], 8)[0]
    assert adapted != base

    def cli(*extra):
        return subprocess.run([sys.executable, "model.py", "--ckpt_dir", str(ckpt), "--prompt", "Name a colour.",
                               "--max_new_tokens", "8", *extra], cwd=ROOT, capture_output=True, text=True)

    r = cli("--adapter", str(tmp_path / "adapter"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"> Name a colour.\n{adapted.strip()}\n\n"
    r = cli("--adapter", str(tmp_path / "missing"))
    assert r.returncode != 0 and r.stderr.strip() == f"error: {tmp_path / 'missing'}: PEFT adapter directory not found"
