import json
import math
import random
from dataclasses import asdict
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

import lora
from conftest import ROOT, make_tiny_ckpt, random_model
from hypernet import (HyperNetConfig, HyperNetwork, adapter_diagnostics, checkpoint, export_from_text, load_trained,
                      summary)
from model import ModelArgs, Tokenizer, load_model

SMALL = dict(rank=4, a=16, b=16, alpha=8.0, d_h=64, n_layers=1, n_heads=4, iterations=2)
TEXTS = ["Repeat the word.", "Reverse the word.", "Write the word in capitals, please."]
LLAMA3_8B = dict(dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, vocab_size=128256, multiple_of=1024,
                 ffn_dim_multiplier=1.3, norm_eps=1e-5, rope_theta=500000.0)


class ByteTokenizer:
    """Bytes as ids (the tiny models have 256 ids); 1 = bos, 2 = eos."""
    add_bos = True

    def encode(self, s, *, bos, eos):
        return [1] * bos + list(s.encode()) + [2] * eos


def setup(model_seed=0, **cfg):
    model = random_model(model_seed)
    torch.manual_seed(0)
    hn = HyperNetwork(HyperNetConfig(**{**SMALL, **cfg}), model.args)
    hn.inject(model)
    return model, hn


def tokens(B=3, T=9, seed=0):
    return torch.randint(3, 256, (B, T), generator=torch.Generator().manual_seed(seed))


def lm_loss(model, x):
    return F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())


def test_fresh_hypernetwork_leaves_the_base_model_unchanged():
    model, hn = setup()
    x = tokens()
    base = model(x)
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    W = hn(codes)
    assert W.shape == (3, 2 * 7, 4 * 16 + 16 * 4)
    ad = hn.adapters(W)
    assert all(torch.equal(B, torch.zeros_like(B)) for _, B in ad)  # B_train exactly zero
    assert all(A.abs().min() > 0 for A, _ in ad)  # A_train small random, so dL/dB != 0
    lora.set_weights(model, ad, torch.tensor([2, 0, 1]))
    assert torch.equal(model(x), base)


def test_gradients_reach_every_hypernetwork_parameter_and_no_base_weight():
    model, hn = setup()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    opt = torch.optim.Adam(hn.parameters(), lr=1e-2)
    x = tokens()
    for step in range(2):  # the zero-init head passes gradient to the decoder from the second step on
        lora.set_weights(model, hn.adapters(hn(codes)), torch.tensor([0, 1, 2]))
        loss = lm_loss(model, x)
        opt.zero_grad()
        loss.backward()
        if step == 0:
            assert hn.head.weight.grad.abs().sum() > 0
        opt.step()
    for n, p in hn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, n
    assert all(not p.requires_grad and p.grad is None for p in model.parameters())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in base.items())


def test_activation_checkpointing_gives_the_same_gradients():
    model, hn = setup()
    torch.nn.init.normal_(hn.head.weight)
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    grads = []
    for ckpt in (False, True):
        model.gradient_checkpointing = ckpt
        hn.zero_grad()
        lora.set_weights(model, hn.adapters(hn(codes)), torch.tensor([0, 1, 2]))  # set once, used in recompute
        lm_loss(model, tokens()).backward()
        lora.clear_weights(model)
        grads.append(torch.cat([p.grad.flatten() for p in hn.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


@pytest.mark.parametrize("K", [1, 4])
def test_refinement_iterates_the_same_decoder(K):
    model, hn = setup(iterations=K)
    torch.nn.init.normal_(hn.head.weight, std=1.0)  # as after training: the residual is not just the bias
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    W = hn(codes)
    ctx = hn.task_proj((codes - hn.task_mean) / hn.task_scale)[:, None]
    manual = torch.zeros_like(W)
    for _ in range(K):
        manual = manual + hn.step(ctx, manual)
    assert torch.allclose(W, manual + hn.shared, atol=1e-6)
    # the k-th residual is a function of W_{k-1}: it changes when W_{k-1} does, with a non-zero Jacobian
    W1 = hn.step(ctx, torch.zeros_like(W)).detach().requires_grad_()
    r2 = hn.step(ctx, W1)
    assert (r2 - hn.step(ctx, W1 + 0.1 * torch.randn_like(W1))).abs().max() > 1e-3
    (g,) = torch.autograd.grad(r2.square().sum(), W1)
    assert g.abs().sum() > 0


def test_task_text_longer_than_the_model_is_cut_to_max_seq_len():
    """A definition longer than the model's max_seq_len (train.py sets it to --max_len) is cut to fit,
    as a prefix: its code equals the code of its first max_seq_len tokens."""
    model = random_model(0, max_seq_len=64)
    hn = HyperNetwork(HyperNetConfig(**SMALL), model.args)
    hn.inject(model)
    tok = ByteTokenizer()
    n = model.args.max_seq_len
    assert n < hn.cfg.max_task_tokens
    long_text = "Classify the sentence. " * (n // 10)
    assert len(tok.encode(long_text, bos=True, eos=False)) > n
    cut = hn.encode_tasks(model, tok, [long_text])  # was: ValueError, sequence exceeds max_seq_len
    prefix = bytes(tok.encode(long_text, bos=False, eos=False)[: n - 1]).decode()
    assert torch.equal(cut, hn.encode_tasks(model, tok, [prefix]))


def test_last_token_pooling_is_the_unpadded_texts_last_state():
    """pooling="last": in a right-padded batch of texts of different lengths, each code is the final
    state at that text's own last token, as when it is encoded alone (adapters off)."""
    model = random_model(0)
    hn = HyperNetwork(HyperNetConfig(**SMALL, pooling="last"), model.args)
    hn.inject(model)
    tok = ByteTokenizer()
    lora.set_weights(model, [(A, B + 0.5) for A, B in hn.adapters(hn(torch.zeros(1, 64)))])
    codes = hn.encode_tasks(model, tok, TEXTS)
    assert len({len(t) for t in TEXTS}) == len(TEXTS)  # every text padded differently
    with torch.no_grad(), lora.disabled(model):
        for text, code in zip(TEXTS, codes):
            alone = model.forward_hidden(torch.tensor([tok.encode(text, bos=True, eos=False)]))[0, -1]
            torch.testing.assert_close(code, alone, atol=1e-5, rtol=0)
    mean = HyperNetwork(HyperNetConfig(**SMALL), model.args).encode_tasks(model, tok, TEXTS)
    assert (mean - codes).abs().max() > 1e-2  # a different code, not the mean under another name
    with pytest.raises(ValueError, match="pooling 'max': expected 'mean' or 'last'"):
        HyperNetConfig(**SMALL, pooling="max")


def test_task_encoder_pools_caches_normalises_and_ignores_adapters():
    model, hn = setup()
    tok = ByteTokenizer()
    calls = []
    fh = model.forward_hidden
    model.forward_hidden = lambda t, *a: calls.append(t.shape) or fh(t, *a)
    lora.set_weights(model, [(A, B + 0.5) for A, B in hn.adapters(hn(torch.zeros(1, 64)))])  # adapters on
    codes = hn.fit_task_stats(model, tok, TEXTS)  # one padded batch of 3 texts
    assert calls == [(3, 1 + len(TEXTS[2]))]
    assert torch.equal(hn.encode_tasks(model, tok, TEXTS[::-1]), codes.flip(0)) and len(calls) == 1  # cached
    with torch.no_grad(), lora.disabled(model):  # pooled alone, unpadded, without BOS, no adapter
        ids = torch.tensor([tok.encode(TEXTS[0], bos=True, eos=False)])
        alone = fh(ids)[0, 1:].mean(0)
    assert torch.allclose(codes[0], alone, atol=1e-5)
    e = (codes - hn.task_mean) / hn.task_scale
    assert e.mean(0).abs().max() < 1e-5 and abs(e.pow(2).mean().item() - 1) < 1e-4
    assert {"task_mean", "task_scale"} <= set(hn.state_dict())


def test_code_dropout_and_noise_act_on_the_normalised_code():
    model, hn = setup()
    with torch.no_grad():
        hn.task_mean.copy_(torch.randn(64))
        hn.task_scale.fill_(3.0)
    codes = hn.task_mean + hn.task_scale * torch.randn(200, 64)
    assert hn.perturb(codes) is codes  # off: untouched
    norm = lambda c: (c - hn.task_mean) / hn.task_scale  # noqa: E731  what forward() feeds the decoder
    e = norm(codes)
    dropped = norm(hn.perturb(codes, dropout=0.25, seed=7))
    zero = dropped.abs() < 1e-4
    assert 0.23 < zero.float().mean() < 0.27
    assert torch.allclose(dropped[~zero], e[~zero] / 0.75, atol=1e-4)  # the rest rescaled, mean kept
    noisy = norm(hn.perturb(codes, noise=0.5, seed=7))
    assert abs((noisy - e).std().item() - 0.5) < 0.01 and abs((noisy - e).mean().item()) < 0.01
    # a pure function of the seed: equal draws for equal seeds, fresh ones otherwise
    assert torch.equal(hn.perturb(codes, 0.25, 0.5, seed=7), hn.perturb(codes, 0.25, 0.5, seed=7))
    assert not torch.allclose(hn.perturb(codes, 0.25, 0.5, seed=7), hn.perturb(codes, 0.25, 0.5, seed=8))


def test_checkpoint_round_trip():
    model, hn = setup()
    torch.nn.init.normal_(hn.head.weight)
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    ckpt = checkpoint(hn)
    json.dumps(ckpt["hypernet_config"])  # plain data, fits in a JSON run config
    again = HyperNetwork.from_checkpoint(ckpt, model.args)
    assert torch.equal(again(codes), hn(codes))


def test_ablations_plain_output_and_no_module_embeddings():
    model, hn = setup(kind="plain")
    x = tokens()
    base = model(x)
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    W = hn(codes)
    assert W.shape == (3, 14, 4 * 192 + 192 * 4)  # padded to the largest in / out (ffn 192)
    ad = hn.adapters(W)
    for (_, m), (A, B) in zip(lora.lora_modules(model), ad):
        assert A.shape == (3, 4, m.in_features) and B.shape == (3, m.out_features, 4)
    lora.set_weights(model, ad, torch.tensor([0, 1, 2]))
    assert torch.equal(model(x), base)
    torch.nn.init.normal_(hn.head.weight)
    W = hn(codes)
    assert torch.equal(W * hn.mask, W) and hn.mask.sum() < hn.mask.numel()  # padding stays exactly zero

    model, hn = setup(module_emb=False)
    assert not any("emb" in n for n, _ in hn.named_parameters())
    assert hn(hn.fit_task_stats(model, ByteTokenizer(), TEXTS)).shape == (3, 14, 128)


def test_adapter_diagnostics():
    A, B = torch.randn(1, 4, 16), torch.randn(1, 16, 4)
    same = adapter_diagnostics([(A.expand(3, -1, -1), B.expand(3, -1, -1))])
    assert abs(same["cos"] - 1) < 1e-9 and abs(same["task_share"]) < 1e-9
    opposite = adapter_diagnostics([(torch.cat([A, A]), torch.cat([B, -B]))])  # dW and -dW
    assert abs(opposite["cos"] + 1) < 1e-9 and abs(opposite["task_share"] - 1) < 1e-9
    # equals the geometry of the dense dW = B A, all modules together; float64 inputs so that the
    # reference's dense products round like adapter_diagnostics' (fp32 ones differ by ~1e-9)
    g = torch.Generator().manual_seed(0)
    ad = [(torch.randn(3, 4, n, generator=g, dtype=torch.float64), torch.randn(3, m, 4, generator=g, dtype=torch.float64))
          for n, m in ((10, 12), (6, 5))]
    X = torch.stack([torch.cat([(B[i] @ A[i]).flatten() for A, B in ad]) for i in range(3)])
    Xn = X / X.norm(dim=1, keepdim=True)
    d = adapter_diagnostics(ad)
    assert abs(d["cos"] - ((Xn @ Xn.T).sum() - 3).item() / 6) < 1e-9
    assert abs(d["task_share"] - ((X - X.mean(0)).pow(2).sum() / X.pow(2).sum()).item()) < 1e-9


def test_export_from_text(tmp_path):
    model, hn = setup()
    torch.nn.init.normal_(hn.head.weight)
    hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    export_from_text(hn, model, ByteTokenizer(), "Spell the word backwards.", tmp_path, model.args)
    sd = load_file(tmp_path / "adapter_model.safetensors")
    assert len(sd) == 2 * 14 and json.loads((tmp_path / "adapter_config.json").read_text())["r"] == 4
    W = hn(hn.encode_tasks(model, ByteTokenizer(), ["Spell the word backwards."]))
    A, B = hn.adapters(W)[6]  # layers.0.feed_forward.w3: no rotary permutation
    m = lora.lora_modules(model)[6][1]
    assert torch.allclose(sd["base_model.model.model.layers.0.mlp.up_proj.lora_A.weight"], A[0] @ m.A_aux, atol=1e-6)
    assert torch.allclose(sd["base_model.model.model.layers.0.mlp.up_proj.lora_B.weight"], m.B_aux @ B[0], atol=1e-6)
    assert all(m.ext is None for _, m in lora.lora_modules(model))  # leaves the model clean


def test_export_command_on_a_train_py_checkpoint(tmp_path):
    """python hypernet.py --hypernet step_NNNNNN/ --text ... --out DIR, the base model taken from the run."""
    ckpt = make_tiny_ckpt(tmp_path / "base", tokenizer=True, vocab_size=128256)  # the real Llama 3 tokenizer
    model = load_model(ckpt)
    torch.manual_seed(0)
    hn = HyperNetwork(HyperNetConfig(**SMALL), model.args)
    torch.nn.init.normal_(hn.head.weight)
    run = tmp_path / "run" / "step_000010"  # what train.py writes
    run.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in hn.state_dict().items()}, run / "trainable.safetensors")
    (run / "state.json").write_text(json.dumps({"step": 10, "config": {"ckpt_dir": str(ckpt),
                                                                        "hypernet_config": asdict(hn.cfg)}}))
    again = load_trained(run, model.args)
    assert torch.equal(again(torch.ones(1, 64)), hn(torch.ones(1, 64)))
    text = "Given a word, write it backwards."
    subprocess.run([sys.executable, str(ROOT / "hypernet.py"), "--hypernet", str(run), "--text", text,
                    "--out", str(tmp_path / "cli")], check=True, cwd=ROOT, capture_output=True)
    hn.inject(model)
    export_from_text(hn, model, Tokenizer(ckpt / "tokenizer.model"), text, tmp_path / "lib", model.args)
    cli = load_file(tmp_path / "cli" / "adapter_model.safetensors")
    lib = load_file(tmp_path / "lib" / "adapter_model.safetensors")
    assert cli.keys() == lib.keys() and all(torch.allclose(cli[k], lib[k], atol=1e-6) for k in cli)
    assert max(v.abs().max() for k, v in cli.items() if "lora_B" in k) > 0


def test_llama3_8b_summary(tmp_path):
    s = summary(HyperNetConfig(), ModelArgs(**LLAMA3_8B))
    assert s["modules"] == 32 * 7 and s["numbers_per_module"] == 8 * 64 + 64 * 8
    assert s["adapter_numbers"] == 224 * 1024 and s["hypernet_params"] < 20_000_000
    (tmp_path / "params.json").write_text(json.dumps(LLAMA3_8B))
    out = subprocess.run([sys.executable, str(ROOT / "hypernet.py"), "--params", str(tmp_path / "params.json")],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "hypernet params" in out and json.loads(out.strip().splitlines()[-1]) == s


def synthetic_batch(words, tasks):
    """Same inputs, different outputs: '<bos>abc=' -> 'abc<eos>' (task 0, repeat) or 'cba<eos>' (task 1, reverse)."""
    rows, masks = [], []
    for w, t in zip(words, tasks):
        prompt, target = [1] + list((w + "=").encode()), list((w if t == 0 else w[::-1]).encode()) + [2]
        rows.append(prompt + target)
        masks.append([False] * len(prompt) + [True] * len(target))
    return torch.tensor(rows), torch.tensor(masks)


def test_learns_two_tasks_from_their_instructions():
    """Two tasks with the same inputs and different outputs, told apart only by the instruction:
    in 40 steps the loss of both falls at least 2x, in 150 steps 3x, and then each instruction's
    adapter gives its own task the lower loss: swapping the instructions swaps the behaviour."""
    model, hn = setup(rank=8, a=32, b=32)
    with torch.no_grad():  # a sharper output layer: the random base can express a confident answer
        model.output.weight.mul_(4)
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefgh") for _ in range(3)) for _ in range(64)]
    test_words = ["fah", "bag", "hcd", "ead", "gfb", "cbe", "dda", "hhg"]  # held-out words
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS[:2])

    def loss(words, tasks, instructions):
        x, mask = synthetic_batch(words, tasks)
        lora.set_weights(model, hn.adapters(hn(codes)), torch.tensor(instructions))
        logits = model(x[:, :-1], output_mask=mask[:, 1:])
        return F.cross_entropy(logits, x[:, 1:][mask[:, 1:]])

    @torch.no_grad()
    def evaluate():  # (task, instruction) in (0, 0), (1, 1), (0, 1), (1, 0)
        return [loss(test_words, [t] * 8, [i] * 8).item() for t, i in ((0, 0), (1, 1), (0, 1), (1, 0))]

    before = evaluate()
    opt = torch.optim.AdamW(hn.parameters(), lr=5e-3, weight_decay=0.0)
    for step in range(150):
        if step == 40:
            at40 = evaluate()
        tasks = [i % 2 for i in range(16)]
        l = loss(rng.sample(words, 16), tasks, tasks)
        opt.zero_grad()
        l.backward()
        opt.step()
    after = evaluate()
    assert at40[0] < before[0] / 2 and at40[1] < before[1] / 2, (before, at40)
    assert after[0] < before[0] / 3 and after[1] < before[1] / 3, (before, after)
    assert after[0] < 0.8 * after[2] and after[1] < 0.8 * after[3], after  # the instruction decides
    with torch.no_grad():
        d = adapter_diagnostics(hn.adapters(hn(codes)))
    assert d["cos"] < 0.99 and d["task_share"] > 0.005, d  # the two adapters differ


def test_floor_is_exactly_the_multitask_lora_and_travels_with_exports(tmp_path):
    """A hypernetwork over a floor (a trained mt_lora) starts as exactly that LoRA; its checkpoint, merge
    and PEFT export carry floor + generated adapter; the task encoder never sees the floor."""
    peft = pytest.importorskip("peft", reason="peft is the independent consumer of the export")
    from conftest import hf_llama
    x = tokens()
    mt = random_model()
    lora.inject(mt, "plain", rank=3, alpha=6.0, n_tasks=1)
    g = torch.Generator().manual_seed(1)
    for _, m in lora.lora_modules(mt):
        m.lora_B.data.normal_(0, 0.3, generator=g)
    with torch.no_grad():
        want = mt(x)
    state = lora.lora_state_dict(mt)["state"]

    model, hn = setup(floor_rank=3, floor_alpha=6.0)
    with pytest.raises(ValueError, match=r"layers.0.attention.wq.lora_A is shape \(1, 3, 64\); expected \(1, 2, 64\)"):
        setup(floor_rank=2)[1].load_floor(state)
    hn.load_floor(state)  # in place: the modules setup() injected hold these buffers
    codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
    lora.set_weights(model, hn.adapters(hn(codes)), torch.tensor([0, 1, 2]))
    with torch.no_grad():
        assert torch.allclose(model(x), want, atol=1e-6)  # fresh residual: the floor alone
    with lora.disabled(model):
        assert torch.equal(hn.encode_tasks(model, ByteTokenizer(), ["A new task."]),
                           setup()[1].encode_tasks(random_model(), ByteTokenizer(), ["A new task."]))

    # a trained residual on top; the checkpoint restores floor and residual
    torch.nn.init.normal_(hn.head.weight, std=3.0)
    again = HyperNetwork.from_checkpoint(json.loads(json.dumps({"hypernet_config": asdict(hn.cfg)})) |
                                         {"hypernet": hn.state_dict()}, model.args)
    W = hn(codes[1:2])
    assert torch.equal(W, again(codes[1:2]))
    assert all(torch.equal(a, b) for fa, fb in zip(hn.floors(), again.floors()) for a, b in zip(fa, fb))
    lora.set_weights(model, hn.adapters(W))
    with torch.no_grad():
        ours = model(x)
        with lora.disabled(model):
            base = model(x)
        assert (ours - want).abs().max() > 1e-2  # the residual matters
        lora.export_peft(model, tmp_path, model.args)
        lora.merge(model)
        assert torch.allclose(model(x), ours, atol=1e-4)
        lora.unmerge(model)
        cfg = json.loads((tmp_path / "adapter_config.json").read_text())
        assert cfg["r"] == 4 + 3 and cfg["lora_alpha"] / cfg["r"] == 8.0 / 4
        hf = hf_llama(random_model())
        theirs = peft.PeftModel.from_pretrained(hf, str(tmp_path)).eval()(x).logits
    assert (ours - base).abs().max() > 1e-2
    assert (ours - theirs).abs().max() < 1e-4
    lora.clear_weights(model)  # no adapter set: the base model, without the floor (W is back within rounding)
    with torch.no_grad():
        assert torch.allclose(model(x), base, atol=1e-5)


def test_trainable_floor_learns_as_the_multitask_lora():
    """floor_trainable: the floor is a parameter, and with a fresh residual (B_train = 0) its gradient is
    exactly the gradient the mt_lora it came from gets on the same batch; frozen, it gets none."""
    mt = random_model()
    lora.inject(mt, "plain", rank=3, alpha=6.0, n_tasks=1)
    g = torch.Generator().manual_seed(1)
    for _, m in lora.lora_modules(mt):
        m.lora_B.data.normal_(0, 0.3, generator=g)
    state = lora.lora_state_dict(mt)["state"]
    x = tokens()
    lm_loss(mt, x).backward()
    want = [(m.lora_A.grad[0], m.lora_B.grad[0]) for _, m in lora.lora_modules(mt)]

    for trainable in (True, False):
        model, hn = setup(floor_rank=3, floor_alpha=6.0, floor_trainable=trainable)
        hn.load_floor(state)
        codes = hn.fit_task_stats(model, ByteTokenizer(), TEXTS)
        lora.set_weights(model, hn.adapters(hn(codes)), torch.tensor([0, 1, 2]))
        lm_loss(model, x).backward()
        floor = dict(hn.floor.named_parameters())
        assert len(floor) == (2 * len(want) if trainable else 0)
        assert {n for n, _ in hn.floor.named_buffers()} == (set() if trainable else {f"{k}_{m}" for m in range(len(want)) for k in "AB"})
        for m, (gA, gB) in enumerate(want):
            if trainable:
                torch.testing.assert_close(floor[f"A_{m}"].grad, gA, rtol=1e-5, atol=1e-7)
                torch.testing.assert_close(floor[f"B_{m}"].grad, gB, rtol=1e-5, atol=1e-7)
        assert all(p.grad is not None for p in hn.parameters())  # H itself learns too
        # checkpoint round trip: a trainable floor is saved under the same names as a frozen one
        again = HyperNetwork.from_checkpoint({"hypernet_config": asdict(hn.cfg), "hypernet": hn.state_dict()}, model.args)
        assert all(torch.equal(a, b) for fa, fb in zip(hn.floors(), again.floors()) for a, b in zip(fa, fb))


# ----------------------------------------------------------------------------- the export command


def saved_run(tmp_path):
    """A base model (byte tokenizer) and a train.py-style run directory holding a hypernetwork for it."""
    import os
    base = make_tiny_ckpt(tmp_path / "base", tokenizer="bytes", vocab_size=272)
    model = load_model(base)
    torch.manual_seed(0)
    hn = HyperNetwork(HyperNetConfig(**SMALL), model.args)
    torch.nn.init.normal_(hn.head.weight)
    for step in (5, 10):
        ckpt = tmp_path / "run" / f"step_{step:06d}"
        ckpt.mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in hn.state_dict().items()}, ckpt / "trainable.safetensors")
        (ckpt / "state.json").write_text(json.dumps({"step": step, "config": {"ckpt_dir": str(base),
                                                                                "hypernet_config": asdict(hn.cfg)}}))
    umask = os.umask(0o022)
    os.umask(umask)
    return base, tmp_path / "run", hn, 0o666 & ~umask


def export(*argv):
    import hypernet
    with pytest.raises(SystemExit) as e:
        hypernet.main([str(a) for a in argv])
        raise SystemExit(0)
    return e.value.code


def test_merged_checkpoint_equals_adapted_model(tmp_path, capsys):
    base, run, hn, mode = saved_run(tmp_path)
    base_bytes = (base / "consolidated.00.pth").read_bytes()
    text = "Spell the word backwards."
    # a run directory is taken as its latest checkpoint
    assert export("--hypernet", run, "--text", text, "--merged_out", tmp_path / "merged", "--out", tmp_path / "peft") == 0
    assert "warning: no hub id known" in capsys.readouterr().out  # the tiny shape is no hub model

    x = tokens(B=2, T=12)
    adapted = load_model(base)
    hn.inject(adapted)
    lora.set_weights(adapted, hn.adapters(hn(hn.encode_tasks(adapted, Tokenizer(base / "tokenizer.model"), [text]))))
    with torch.no_grad():
        want, plain = adapted(x), load_model(base)(x)
        got = load_model(tmp_path / "merged")(x)
    assert (want - plain).abs().max() > 1e-2  # the adapter does something
    assert (got - want).abs().max() < 1e-4
    for f in ("params.json", "tokenizer.model", "tokenizer_config.json"):
        assert (tmp_path / "merged" / f).read_bytes() == (base / f).read_bytes()
    assert (base / "consolidated.00.pth").read_bytes() == base_bytes  # merging never writes through the mmap
    written = [p for d in ("merged", "peft") for p in (tmp_path / d).iterdir()]
    assert len(written) == 6 and {p.stat().st_mode & 0o777 for p in written} == {mode}  # not 0600
    assert json.loads((tmp_path / "peft" / "adapter_config.json").read_text())["base_model_name_or_path"] is None

    # --out exists: refused, untouched; --force replaces it; the flag names the hub model
    before = (tmp_path / "peft" / "adapter_model.safetensors").read_bytes()
    code = export("--hypernet", run, "--text", "Another task.", "--out", tmp_path / "peft")
    assert code == f"error: {tmp_path / 'peft'}: exists; pass --force to replace it (or choose another directory)"
    assert (tmp_path / "peft" / "adapter_model.safetensors").read_bytes() == before
    assert export("--hypernet", run, "--step", 5, "--text", "Another task.", "--out", tmp_path / "peft", "--force",
                  "--base_model_name_or_path", "org/model") == 0
    assert (tmp_path / "peft" / "adapter_model.safetensors").read_bytes() != before
    assert json.loads((tmp_path / "peft" / "adapter_config.json").read_text())["base_model_name_or_path"] == "org/model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "merged", "peft", "run"]  # no temp dirs left


def test_export_bad_inputs_one_line(tmp_path):
    base, run, hn, _ = saved_run(tmp_path)
    out = ["--out", tmp_path / "out"]
    cases = [
        (["--hypernet", run, "--text", "", *out], "--text '': empty; give the task's instruction"),
        (["--hypernet", run, "--text", "  \n ", *out], "--text '  \\n ': empty"),
        (["--hypernet", tmp_path / "nonexistent", "--text", "x", *out], "nonexistent: no such run or checkpoint directory"),
        (["--hypernet", base, "--text", "x", *out], "base: no complete checkpoint (expected step_NNNNNN/"),
        (["--hypernet", run, "--step", 7, "--text", "x", *out], "step_000007: no complete checkpoint at step 7 "
                                                                "(have: ['step_000005', 'step_000010'])"),
        (["--hypernet", run, "--text", "x"], "give --out (a PEFT adapter) and/or --merged_out"),
        (["--hypernet", run, "--text", "x", "--ckpt_dir", tmp_path / "gone", *out], "gone: checkpoint directory not found"),
        (["--params", tmp_path / "missing.json"], "missing.json: params.json not found"),
        (["--params", base / "params.json", "--config", '{"rank": 8, "colour": 1}'], "unexpected keyword argument 'colour'"),
    ]
    for argv, expected in cases:
        code = export(*argv)
        assert isinstance(code, str) and code.startswith("error: ") and expected in code and "\n" not in code, (argv, code)
    assert not (tmp_path / "out").exists()


def test_base_model_id_by_shape_or_hub_id_file(tmp_path):
    smol = ModelArgs(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, vocab_size=49152, multiple_of=256, rope_theta=1e5)
    assert lora.base_model_id(tmp_path, smol) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert lora.base_model_id(tmp_path, ModelArgs(**LLAMA3_8B)) == "meta-llama/Meta-Llama-3-8B"
    assert lora.base_model_id(tmp_path, ModelArgs(**LLAMA3_8B, use_scaled_rope=True)) == "meta-llama/Llama-3.1-8B"
    assert lora.base_model_id(tmp_path, ModelArgs(**{**LLAMA3_8B, "n_layers": 2})) is None
    (tmp_path / "hub_id").write_text("meta-llama/Meta-Llama-3-8B-Instruct\n")
    assert lora.base_model_id(tmp_path, ModelArgs(**LLAMA3_8B)) == "meta-llama/Meta-Llama-3-8B-Instruct"


def test_task_code_id_and_table_index_their_training_tasks():
    """The two diagnostics (task_code "id", "table") take task indices: a trained task's row, and for
    a task not trained on (-1) the mean row. "id" starts with exactly "text"'s decoder (same seed), so
    the two differ only in the code; "table" starts as a fresh LoRA (B = 0: the adapter is a no-op)."""
    model = random_model(0)
    names = ("t0", "t1", "t2")
    hn = {}
    for code in ("text", "id", "table"):
        torch.manual_seed(0)
        hn[code] = HyperNetwork(HyperNetConfig(**SMALL, task_code=code, code_tasks=names * (code != "text")), model.args)
    text = hn["text"].state_dict()
    assert all(torch.equal(v, hn["id"].state_dict()[k]) for k, v in text.items())
    assert hn["id"].code_table.shape == (3, model.args.dim)
    for code in ("id", "table"):
        h = hn[code]
        idx = h.task_codes(model, ByteTokenizer(), ["?"] * 4, ["t2", "new task", "t0", "t1"])
        assert idx.tolist() == [2, -1, 0, 1]
        W = h(idx)
        torch.testing.assert_close(W[0], h(torch.tensor([2]))[0], rtol=0, atol=0)
        if code == "table":
            assert torch.equal(W[2], h.code_table[0] * h.mask) and W[..., h.n_a:].abs().max() == 0
            torch.testing.assert_close(W[1], h.code_table.mean(0) * h.mask)
        else:  # the mean code goes through the decoder
            with torch.no_grad():
                h.code_table.data = torch.cat([h.code_table.data, h.code_table.data.mean(0, keepdim=True)])
            torch.testing.assert_close(W[1], h(torch.tensor([3]))[0])
    # plain output: each module's A starts as a fresh LoRA of that module, U(+-1 / sqrt(in))
    plain = HyperNetwork(HyperNetConfig(**{**SMALL, "kind": "plain"}, task_code="table", code_tasks=names), model.args)
    for m, (A, B) in enumerate(plain.adapters(plain(torch.tensor([0, 1, 2])))):
        bound = 1 / A.shape[-1] ** 0.5
        assert bound * 0.9 < A.abs().max() <= bound and B.abs().max() == 0, m
    # table_init "same": every task starts at one draw (row 0 of "each", the same random numbers consumed)
    torch.manual_seed(0)
    same = HyperNetwork(HyperNetConfig(**SMALL, task_code="table", code_tasks=names, table_init="same"), model.args)
    assert all(torch.equal(row, hn["table"].code_table[0]) for row in same.code_table)
    assert not torch.equal(hn["table"].code_table[0], hn["table"].code_table[1])
    with pytest.raises(ValueError, match="code_tasks must be given for 'id' and 'table' only"):
        HyperNetConfig(task_code="id")
    with pytest.raises(ValueError, match="reads no text"):
        export_from_text(hn["id"], model, ByteTokenizer(), "Repeat the word.", None, model.args)


def test_direct_path_starts_silent_and_can_write_any_bank():
    """direct_rank k: W = the decoder's + (C e) U. With U = 0, its start, the hypernetwork is exactly the one
    without the path (same seed: the decoder is drawn first); with k >= N tasks of independent codes some U
    makes the path write any N residuals exactly (a bank the text indexes): U = pinv(C E) T."""
    model = random_model(0)
    torch.manual_seed(0)
    plain = HyperNetwork(HyperNetConfig(**SMALL), model.args)
    torch.manual_seed(0)
    hn = HyperNetwork(HyperNetConfig(**SMALL, direct_rank=4), model.args)
    assert all(torch.equal(v, hn.state_dict()[k]) for k, v in plain.state_dict().items())
    codes = torch.randn(3, model.args.dim)
    for h in (plain, hn):  # statistics of other codes: N codes centred on their own mean have rank N - 1
        h.fit_stats_from_codes(torch.randn(8, model.args.dim))
    torch.testing.assert_close(hn(codes), plain(codes), rtol=0, atol=0)
    T = torch.randn(3, len(hn.crop), hn.P)
    with torch.no_grad():
        c = hn.normalise(codes) @ hn.direct_proj.T  # (3, k)
        hn.direct.copy_((torch.linalg.pinv(c) @ T.flatten(1)).view_as(hn.direct))
    torch.testing.assert_close(hn(codes) - plain(codes), T * hn.mask, rtol=1e-4, atol=1e-4)
    assert any(p is hn.direct for p in hn.task_parameters()) and any(p is hn.direct_proj for p in hn.task_parameters())
    with pytest.raises(ValueError, match="direct_rank is a path from the task code: task_code 'table' has none"):
        HyperNetConfig(task_code="table", code_tasks=("t0",), direct_rank=4)


def test_linear_hypernetwork_without_decoder():
    """iterations 0: no decoder at all, adapter = S + (C e) U. S holds LoRA's start (A random within PEFT's
    bound, B = 0: a no-op whose B still gets a gradient); the task enters through C and U only."""
    model = random_model(0)
    hn = HyperNetwork(HyperNetConfig(**{**SMALL, "iterations": 0}, direct_rank=3), model.args)
    assert {k.split(".")[0] for k in hn.state_dict()} == {"task_mean", "task_scale", "direct_proj", "direct", "shared"}
    bound = 1 / math.sqrt(hn.a)
    A, B = hn.shared[:, : hn.n_a], hn.shared[:, hn.n_a:]
    assert 0.9 * bound < A.abs().max() <= bound and B.abs().max() == 0
    hn.fit_stats_from_codes(torch.randn(8, model.args.dim))
    codes = torch.randn(2, model.args.dim)
    torch.testing.assert_close(hn(codes), hn.shared.expand(2, -1, -1) * hn.mask, rtol=0, atol=0)
    with torch.no_grad():
        hn.direct.normal_()
    c = hn.normalise(codes) @ hn.direct_proj.T  # (2, k)
    want = hn.shared + torch.einsum("nk,kmp->nmp", c, hn.direct)
    torch.testing.assert_close(hn(codes), want * hn.mask, rtol=1e-5, atol=1e-5)
    assert [id(p) for p in hn.task_parameters()] == [id(hn.direct_proj), id(hn.direct)]
    assert [id(p) for p in hn.shared_parameters()] == [id(hn.shared)]
    hn(codes).pow(2).sum().backward()
    assert hn.direct.grad.abs().sum() > 0 and hn.direct_proj.grad.abs().sum() > 0
    for bad in (dict(iterations=0), dict(iterations=0, direct_rank=3, shared=False), dict(iterations=-1)):
        with pytest.raises(ValueError, match="expected >= 1, or 0 with direct_rank > 0 and shared"):
            HyperNetConfig(**bad)

