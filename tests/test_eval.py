"""eval.py: SNI metrics against an independent computation, and train.py -> eval.py end to end on a tiny model."""

import json
import os
import re
import string
import subprocess
import sys

import numpy as np
import pytest
import torch
from rouge_score import rouge_scorer, tokenize
from rouge_score.tokenizers import Tokenizer as RougeTokenizer

import data
import eval as ev
import lora
from conftest import ROOT, make_tiny_ckpt
from hypernet import HyperNetConfig, HyperNetwork
from model import Tokenizer, generate, load_model
import train
from test_train import TINY

# ----------------------------------------------------------------------------- metrics


def test_exact_match_normalisation():
    em = lambda p, refs: ev.compute_metrics([p], [refs])["exact_match"]  # noqa: E731
    assert em("  The Answer is: YES!! ", ["the answer is yes"]) == 100  # case, punctuation, spaces
    assert em("answer is yes", ["the answer is yes"]) == 0              # articles are kept (unlike SQuAD)
    assert em("18", [18]) == 100 and em("18.0", [18]) == 0              # numbers compared as strings
    assert em("b", ["a", "B."]) == 100                                  # max over references
    assert em("", ["x"]) == 0 and em("", ["?!"]) == 100                 # empty prediction; punctuation-only reference
    assert em("日本語です!", ["日本語です"]) == 100                   # ASCII punctuation is dropped...
    assert em("日本語です。", ["日本語です"]) == 0                    # ...only it, as in SNI (。 is not string.punctuation)


def test_rouge_l_matches_an_independent_lcs():
    """ROUGE-L F from rouge-score equals an F of the LCS computed here on rouge's own tokens (with stemming)."""
    tok = tokenize.tokenize
    stem = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)._tokenizer._stemmer

    def lcs(a, b):
        t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                t[i + 1][j + 1] = t[i][j] + 1 if x == y else max(t[i][j + 1], t[i + 1][j])
        return t[-1][-1]

    def f(p, r):
        p, r = tok(p, stem), tok(r, stem)
        n = lcs(p, r)
        return 0.0 if n == 0 else 2 * n / (len(p) + len(r))

    cases = [("The cats are running fast", "the cat runs fast"), ("", "something"), ("a b c d", "d c b a"),
             ("It's 12 o'clock!", "12 oclock"), ("jumping jumped jumps", "jump")]
    for p, r in cases:
        assert ev.compute_metrics([p], [[r]])["rougeL"] == round(100 * f(p, r), 4), (p, r)
    assert ev.compute_metrics(["running"], [["runs"]])["rougeL"] == 100  # Porter stemming
    # mean over instances of the max over references, rounded to 4 decimals
    m = ev.compute_metrics(["a b", "x"], [["a b c", "a"], ["y"]])
    assert m["rougeL"] == round(100 * (0.8 + 0) / 2, 4) and m["exact_match"] == 0


def test_xlingual_tokens():
    t = ev.XlingualTokenizer().tokenize
    assert t("Hello, wörld 42abc!") == ["Hello", ",", "wörld", "42", "abc", "!"]
    assert t("हिन्दी भाषा") == ["हिन्दी", "भाषा"]           # combining vowel signs stay inside the word
    assert t("東京は大きい") == list("東京は大きい")             # no spaces: one token per character
    assert t("한국어 문장") == ["한국어", "문장"]
    # the default rouge tokenizer sees nothing in non-Latin text; the cross-lingual one scores it
    assert ev.compute_metrics(["東京は大きい"], [["東京は小さい"]])["rougeL"] == 0
    assert ev.compute_metrics(["東京は大きい"], [["東京は小さい"]], xlingual=True)["rougeL"] == round(100 * 4 / 6, 4)  # LCS 東京はい
    assert ev.compute_metrics(["हिन्दी भाषा"], [["हिन्दी"]], xlingual=True)["rougeL"] == round(100 * 2 / 3, 4)


def test_grouped_metrics():
    g = ev.compute_grouped_metrics(["a", "b", "c"], [["a"], ["x"], ["c"]], ["t1", "t1", "t2"])
    assert g == {"t1": {"exact_match": 50.0, "rougeL": 50.0}, "t2": {"exact_match": 100.0, "rougeL": 100.0}}


def test_metrics_on_real_sni_references(sni_dir):
    ts = data.load_tasks(sni_dir, max_tasks=20, n_heldout=5, log=None)
    insts = [(t, i) for t in ts.seen + ts.unseen for i in t.heldout]
    refs = [i.outputs for _, i in insts]
    exact = ev.compute_metrics([r[-1] for r in refs], refs)
    assert exact["exact_match"] == 100
    # ROUGE-L is 100 unless the reference has no [a-z0-9] token at all (rouge scores empty vs empty as 0)
    empty = sum(not tokenize.tokenize(r[-1].lower(), None) for r in refs)
    assert exact["rougeL"] == round(100 * (len(refs) - empty) / len(refs), 4)
    # a perturbed prediction: independent exact match (SQuAD-style without articles) and a per-instance mean
    preds = [r[0].upper() + " extra" if k % 3 else r[0] for k, r in enumerate(refs)]

    def norm(s):
        return " ".join("".join(c for c in s.lower() if c not in set(string.punctuation)).split())
    want = 100 * np.mean([max(norm(p) == norm(r) for r in rs) for p, rs in zip(preds, refs)])
    got = ev.compute_metrics(preds, refs)
    assert got["exact_match"] == round(want, 4)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    want = 100 * np.mean([max(scorer.score(r, p)["rougeL"].fmeasure for r in rs) for p, rs in zip(preds, refs)])
    assert got["rougeL"] == round(want, 4)


# ----------------------------------------------------------------------------- end to end on a tiny model

TINY_TRAIN = ["--max_steps", "2", "--save_every", "100", "--eval_every", "0", "--tasks_per_step", "2",
              "--examples_per_task", "2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    ckpt = make_tiny_ckpt(root / "tiny", tokenizer="bytes", vocab_size=259, n_layers=2)
    for name, mode in (("hn", "hypernet"), ("mt", "mt_lora"), ("lora", "lora")):  # in-process: no interpreter start-up
        train.main(["--ckpt_dir", str(ckpt), "--out_dir", str(root / name), "--mode", mode, *TINY, *TINY_TRAIN]
                   + ["--tasks", "2"] * (mode == "lora"))
    return root


def eval_main(runs, *extra):
    return ev.main(["--ckpt", str(runs / "hn"), "--mt_lora_ckpt", str(runs / "mt"), "--lora_ckpt", str(runs / "lora"),
                    "--max_per_task", "2", "--max_len", "240", "--max_new_tokens", "16", "--batch_size", "8", *extra])


def test_end_to_end_every_system(runs, capsys):
    res = eval_main(runs)
    out_dir = runs / "hn" / "eval" / "builtin-2"
    default = [s for s in ev.SYSTEMS if s not in ev.OPT_IN]
    assert list(res["systems"]) == default
    files = {p.name for p in out_dir.iterdir()}
    assert {"table.md", "per_task.md", "per_category.md", "results.json"} | {f"predictions-{s}.jsonl" for s in default} <= files
    table = (out_dir / "table.md").read_text()
    assert capsys.readouterr().out.strip() == table.strip()
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved["complete"] and saved["metric_version"] == ev.METRIC_VERSION
    tasks = data.load_tasks(None, log=None)
    for s in default:
        recs = [json.loads(l) for l in (out_dir / f"predictions-{s}.jsonl").read_text().splitlines()]
        n_tasks = {"seen": 2 if s == "lora" else 16, "unseen": 0 if s == "lora" else 6}
        for split in ("seen", "unseen"):
            rs = [r for r in recs if r["split"] == split]
            assert len({r["task"] for r in rs}) == n_tasks[split]
            if not rs:
                continue
            for r in rs:  # every instance score recomputed from the prediction and references
                em, rl = ev.instance_scores(r["prediction"], r["references"])
                assert (em, rl) == (r["exact_match"], r["rougeL"])
            names = sorted({r["task"] for r in rs})
            for m in ("rougeL", "exact_match"):
                want = np.mean([np.mean([r[m] for r in rs if r["task"] == n]) for n in names])
                got = saved["systems"][s]["summary"][split]
                assert got[m] == round(want, 4)
                assert f"{want:.1f} [{got[m + '_ci'][0]:.1f}, {got[m + '_ci'][1]:.1f}]" in table
                assert got[m + "_ci"][0] <= got[m] + 1e-9 and got[m] <= got[m + "_ci"][1] + 1e-9
                for n in names:
                    assert got["per_task"][n][m] == ev.compute_grouped_metrics(
                        [r["prediction"] for r in rs], [r["references"] for r in rs], [r["task"] for r in rs])[n][m]
        assert all(len(r["references"]) >= 1 and r["prompt_tokens"] > 0 for r in recs)
        assert saved["speed"]["decode"][s]["instances"] == len(recs) and saved["speed"]["decode"][s]["seconds"] > 0
    # paired differences and the extra figures
    assert list(saved["differences"]) == ["hypernet-base", "hypernet-fewshot", "hypernet-hypernet_shuffled", "hypernet-mt_lora",
                                          "hypernet-lora"]
    assert set(saved["differences"]["hypernet-lora"]) == {"seen"}
    assert {"hypernet/seen", "hypernet/unseen", "lora/seen"} <= set(saved["diversity"])
    assert saved["speed"]["adapter_ms"] > 0 and saved["speed"]["lora_train"]["seconds"] > 0
    assert "training one per-task LoRA" in table and "| hypernet − base |" in table
    assert re.search(r"decoding, seconds per instance \(cpu, torch threads \d+\): base \d+\.\d\d, fewshot", table)
    assert "builtin_list_sum" in (out_dir / "per_task.md").read_text()
    assert "Mathematics" in (out_dir / "per_category.md").read_text()


def test_reuse_without_force(runs, capsys):
    eval_main(runs, "--systems", "base,hypernet")
    first = (runs / "hn" / "eval" / "builtin-2" / "predictions-hypernet.jsonl").read_text()
    capsys.readouterr()
    eval_main(runs, "--systems", "base,hypernet")
    err = capsys.readouterr().err
    assert "base: reused" in err and "hypernet: reused" in err
    eval_main(runs, "--systems", "hypernet", "--shots", "1")  # shots do not concern hypernet: still reused
    assert "hypernet: reused" in capsys.readouterr().err
    eval_main(runs, "--systems", "fewshot", "--shots", "1")   # they concern fewshot: regenerated
    assert "fewshot: reused" not in capsys.readouterr().err
    eval_main(runs, "--systems", "hypernet", "--force")
    assert "reused" not in capsys.readouterr().err
    assert (runs / "hn" / "eval" / "builtin-2" / "predictions-hypernet.jsonl").read_text() == first
    eval_main(runs, "--systems", "base")  # remembered through invocations that did not run it
    assert "base: reused" in capsys.readouterr().err
    # another checkpoint of the run: the frozen model's answers are taken from the first evaluation
    step1 = runs / "hn" / "step_000001"
    import shutil
    shutil.copytree(runs / "hn" / "step_000002", step1)
    state = json.loads((step1 / "state.json").read_text())
    (step1 / "state.json").write_text(json.dumps({**state, "step": 1}))
    eval_main(runs, "--systems", "base", "--step", "1")
    assert "base: reused" in capsys.readouterr().err
    assert (runs / "hn" / "eval" / "builtin-1" / "predictions-base.jsonl").read_text() == \
        (runs / "hn" / "eval" / "builtin-2" / "predictions-base.jsonl").read_text()
    # with its decoding time, and the time of a system reused in place survives invocations that did not run it
    times = [json.loads((runs / "hn" / "eval" / d / "results.json").read_text())["speed"]["decode"]["base"]
             for d in ("builtin-1", "builtin-2")]
    assert times[0] == times[1] and times[0]["instances"] == 2 * 22
    shutil.rmtree(step1)


def test_two_processes_share_one_eval_directory(runs, tmp_path):
    """make results evaluates systems in two eval.py processes side by side into one directory; a
    last call with every system must then reuse them all (no system's settings lost to a race)."""
    import shutil
    hn = tmp_path / "hn"
    shutil.copytree(runs / "hn", hn, ignore=shutil.ignore_patterns("eval"))
    common = [sys.executable, "eval.py", "--ckpt", str(hn), "--mt_lora_ckpt", str(runs / "mt"), "--max_per_task", "2",
              "--max_len", "240", "--max_new_tokens", "16"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(common + ["--systems", s], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for s in ("base,base_chat", "hypernet,mt_lora")]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]
    r = subprocess.run(common + ["--systems", "base,base_chat,hypernet,mt_lora"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert all(f"{s}: reused" in r.stderr for s in ("base", "base_chat", "hypernet", "mt_lora")), r.stderr
    saved = json.loads((hn / "eval" / "builtin-2" / "results.json").read_text())
    assert saved["complete"] and list(saved["systems"]) == ["base", "base_chat", "hypernet", "mt_lora"]
    assert set(saved["speed"]["decode"]) == {"base", "base_chat", "hypernet", "mt_lora"}  # each process's times kept


def test_mixed_task_batch_equals_one_task_at_a_time(tmp_path):
    ckpt = make_tiny_ckpt(tmp_path, tokenizer="bytes", vocab_size=259, n_layers=2)
    model, tok = load_model(ckpt, max_seq_len=512), Tokenizer(ckpt / "tokenizer.model")
    cfg = HyperNetConfig(rank=4, a=16, b=16, d_h=32, n_layers=1)
    torch.manual_seed(0)
    hn = HyperNetwork(cfg, model.args)
    with torch.no_grad():
        hn.head.weight.normal_(0, 3.0)  # a trained-looking hypernetwork: adapters differ between tasks
        hn.head.bias.normal_(0, 0.5)
    tasks = data.load_tasks(None, log=None).seen[:4]
    W = hn(hn.encode_tasks(model, tok, [data.task_text(t) for t in tasks])).detach()
    adapters = hn.adapters(W)
    rows = [0, 1, 2, 3, 1]
    prompts = [data.encode_prompt(tok, tasks[r], tasks[r].heldout[k], max_len=150, reserve=12)[0]
               for k, r in enumerate(rows)]
    inject = dict(kind=cfg.kind, targets=cfg.targets, rank=cfg.rank, a=cfg.a, b=cfg.b, alpha=cfg.alpha, seed=cfg.seed)
    with ev.injected(model, **inject):  # lora.py's own per-row path, and one task at a time
        lora.set_weights(model, adapters, torch.tensor(rows))
        mixed = generate(model, tok, prompts, 12)
        alone = []
        for p, r in zip(prompts, rows):
            lora.set_weights(model, [(A[r:r + 1], B[r:r + 1]) for A, B in adapters])
            alone.append(generate(model, tok, [p], 12)[0])
        lora.clear_weights(model)
    plain = generate(model, tok, prompts, 12)
    bank = ev.fold(model, inject, adapters, torch.float32)  # eval's path: folded once, plain LoRA, distinct rows only
    with ev.injected(model, **{**inject, "kind": "plain", "a": None, "b": None}):
        ev.set_bank_rows(model, bank, rows)
        folded = generate(model, tok, prompts, 12)
    assert mixed == alone == folded
    assert len(set(alone)) > 1 and alone != plain  # the adapters change the answers, differently per task
    assert [tok.encode(s, bos=False, eos=False) for s in mixed] == [tok.encode(s, bos=False, eos=False) for s in alone]
    assert not any(isinstance(m, lora.LoRALinear) for m in model.modules())  # injected() restored the model


def test_newline_rule_and_budget():
    tok = Tokenizer(ROOT / "checkpoints" / "smollm2-135m" / "tokenizer.model") \
        if (ROOT / "checkpoints" / "smollm2-135m" / "tokenizer.model").is_file() else None
    if tok is None:
        pytest.skip("demo checkpoint absent")
    nl = ev.newline_ids(tok)
    assert tok.encode("\n", bos=False, eos=False)[0] in nl and tok.encode("a.\n\n", bos=False, eos=False)[-1] in nl
    assert all("\n" in tok.decode([i]) for i in nl) and tok.encode("a b", bos=False, eos=False)[0] not in nl
    task = data.load_tasks(None, log=None).seen[0]  # repeat_word: short answers
    longest = max(len(tok.encode(" " + r, bos=False, eos=False)) for i in task.heldout + task.train for r in i.outputs)
    b = ev.budget(tok, task, 128)
    assert b >= longest + 1 and b & (b - 1) == 0 and b < 2 * (longest + 1) + 8 and ev.budget(tok, task, 4) == 4


def test_bootstrap_and_derangement():
    per_task = [np.array([0.0, 100.0] * 5), np.array([50.0] * 3)]
    lo, hi = ev.bootstrap_ci(per_task)
    assert lo < ev.task_mean(per_task) == 50.0 < hi and ev.bootstrap_ci(per_task) == (lo, hi)
    assert ev.bootstrap_ci([np.array([7.0, 7.0])]) == (7.0, 7.0)
    for n in (2, 3, 10):
        p = ev.derangement(n)
        assert sorted(p) == list(range(n)) and all(p[i] != i for i in range(n)) and ev.derangement(n) == p


def run_eval_cli(*args):
    r = subprocess.run([sys.executable, "eval.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"} | dict(__import__("os").environ))
    return r.returncode, r.stderr.strip()


def test_bad_input_one_line_errors(runs, tmp_path, capsys):
    def err(*args):
        with pytest.raises(SystemExit) as e:
            ev.main([str(a) for a in args])
        msg = str(e.value.code)
        assert msg.startswith("error: ") and "\n" not in msg, msg
        return msg
    hn = runs / "hn"
    assert "no such run directory" in err("--ckpt", tmp_path / "nope")
    (tmp_path / "partial" / "step_000004").mkdir(parents=True)  # a checkpoint write that never finished
    assert "no complete checkpoint" in err("--ckpt", tmp_path / "partial")
    assert "no complete checkpoint at step 7" in err("--ckpt", hn, "--step", 7)
    assert "unknown ['nonsense']" in err("--ckpt", hn, "--systems", "base,nonsense")
    assert "--systems lora needs --lora_ckpt" in err("--ckpt", hn, "--systems", "lora")
    assert "--systems hypernet needs a --mode hypernet run" in err("--ckpt", runs / "mt", "--systems", "hypernet")
    other = make_tiny_ckpt(tmp_path / "wide", tokenizer="bytes", vocab_size=259, n_layers=2, dim=32)
    msg = err("--ckpt", hn, "--ckpt_dir", other, "--systems", "hypernet", "--max_per_task", "1")
    assert "has shape (64,) but the base model" in msg and "implies (32,)" in msg and "different base model" in msg
    msg = err("--ckpt", runs / "mt", "--ckpt_dir", other, "--systems", "mt_lora", "--max_per_task", "1")
    assert "lora_A has shape (1, 8, 64)" in msg or "lora_A has shape (1, 4, 64)" in msg
    folder = data.write_builtin_tasks(tmp_path / "sni")
    lines = (folder / "splits" / "default" / "train_tasks.txt").read_text().splitlines()
    (folder / "splits" / "default" / "train_tasks.txt").write_text("\n".join(lines[1:]) + "\n")
    assert "1 of the run's 16 training tasks are not among its train tasks" in err("--ckpt", hn, "--data_dir", folder)
    # a corrupt unseen task file: one line naming it, or a warning and the rest with --skip_bad_tasks
    folder = data.write_builtin_tasks(tmp_path / "sni2")
    (folder / "tasks" / "builtin_count_words.json").write_text('{"Definition": ["x"], "Instances": [')
    assert "builtin_count_words.json: invalid JSON" in err("--ckpt", hn, "--data_dir", folder, "--systems", "base")
    res = ev.main(["--ckpt", str(hn), "--data_dir", str(folder), "--systems", "base", "--max_per_task", "1",
                   "--max_len", "240", "--max_new_tokens", "8", "--skip_bad_tasks"])
    assert len(res["tasks"]["unseen"]) == 5 and "builtin_count_words" not in res["tasks"]["unseen"]
    # and from the command line: exit status 1, one line on stderr, no traceback
    code, stderr = run_eval_cli("--ckpt", tmp_path / "nope")
    assert code == 1 and stderr.count("\n") == 0 and "Traceback" not in stderr and "no such run directory" in stderr


def test_try_an_adapter(runs, capsys):
    ev.main(["--ckpt", str(runs / "hn"), "--task", "Write the word backwards.", "--input", "hello", "--input", "a|b",
             "--max_new_tokens", "8", "--max_len", "300"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "task: Write the word backwards." and out[2] == "| input | base | adapted |"
    assert out[4].startswith("| hello | ") and out[5].startswith("| a\\|b | ") and len(out) == 6


def test_floor_hypernet_evaluates_as_its_mt_lora(runs, capsys):
    """A --floor run whose residual is still ~0 must answer exactly as the mt_lora under it, also with
    --adapter_only, which takes the definition out of every adapter system's prompt."""
    ckpt = runs / "tiny"
    train.main(["--ckpt_dir", str(ckpt), "--out_dir", str(runs / "floor"), "--floor", str(runs / "mt"), *TINY,
                *TINY_TRAIN, "--lr", "1e-12"])
    for extra in ([], ["--adapter_only"]):
        ev.main(["--ckpt", str(runs / "floor"), "--mt_lora_ckpt", str(runs / "mt"), "--systems", "hypernet,mt_lora",
                 "--max_per_task", "2", "--max_len", "240", "--max_new_tokens", "16", *extra])
        out = runs / "floor" / "eval" / ("builtin-2-adapter_only" if extra else "builtin-2")
        hn, mt = ([json.loads(l) for l in (out / f"predictions-{s}.jsonl").read_text().splitlines()]
                  for s in ("hypernet", "mt_lora"))
        assert [(r["id"], r["prediction"], r["prompt_tokens"]) for r in hn] == \
               [(r["id"], r["prediction"], r["prompt_tokens"]) for r in mt]
        if extra:
            assert all(r["prompt_tokens"] < p["prompt_tokens"] for r, p in zip(hn, prev))  # no definition
        prev = hn
    capsys.readouterr()


def test_mean_adapter_is_the_mean_of_its_rows():
    """A LoRA layer with mean_adapter(bank) (rank n r, alpha n alpha) outputs the mean of the outputs with
    each row's adapter: the adapter is linear in B A."""
    torch.manual_seed(0)
    n, r, i, o = 3, 4, 24, 20
    bank = [(torch.randn(n, r, i), torch.randn(n, o, r))]
    x = torch.randn(2, 5, i)
    one = lora.LoRALinear(i, o, "plain", r, 16.0)
    one.weight.data.normal_()
    each = []
    for k in range(n):
        one.ext = (bank[0][0][k:k + 1], bank[0][1][k:k + 1])
        each.append(one(x))
    mean = lora.LoRALinear(i, o, "plain", n * r, n * 16.0)
    mean.weight = one.weight
    (A, B), = ev.mean_adapter(bank, [0, 1, 2])
    assert A.shape == (1, n * r, i) and B.shape == (1, o, n * r)
    mean.ext = (A, B)
    torch.testing.assert_close(mean(x), torch.stack(each).mean(0), rtol=1e-5, atol=1e-5)
    (A, B), = ev.mean_adapter(bank, [2])
    assert torch.equal(A[0], bank[0][0][2]) and torch.equal(B[0], bank[0][1][2])


def test_hypernet_mean_system(runs, capsys):
    """hypernet_mean runs only when named; a run with one training task: the mean of one adapter is that
    adapter, so on the seen task hypernet_mean answers exactly as hypernet; on 16 seen tasks the paired
    difference to hypernet is reported."""
    train.main(["--ckpt_dir", str(runs / "tiny"), "--out_dir", str(runs / "hn1"), "--mode", "hypernet", *TINY,
                *TINY_TRAIN, "--tasks", "1"])
    ev.main(["--ckpt", str(runs / "hn1"), "--systems", "hypernet,hypernet_mean", "--max_per_task", "2", "--max_len", "240",
             "--max_new_tokens", "16"])
    out = runs / "hn1" / "eval" / "builtin-2"
    hn, mean = ([json.loads(l) for l in (out / f"predictions-{s}.jsonl").read_text().splitlines()]
                for s in ("hypernet", "hypernet_mean"))
    assert [r["id"] for r in hn] == [r["id"] for r in mean] and {r["split"] for r in mean} == {"seen", "unseen"}
    seen = [(r["id"], r["prediction"]) for r in hn if r["split"] == "seen"]
    assert len(seen) == 2 and seen == [(r["id"], r["prediction"]) for r in mean if r["split"] == "seen"]
    res = eval_main(runs, "--systems", "hypernet,hypernet_mean")
    assert list(res["systems"]) == ["hypernet", "hypernet_mean"]
    assert set(res["differences"]["hypernet-hypernet_mean"]) == {"seen", "unseen"}
    capsys.readouterr()


def test_tasks_evaluates_a_subset_of_the_seen_tasks(runs, capsys):
    """--tasks scores only the named training tasks as seen (in the run's order) and every unseen task;
    hypernet_mean still averages all 16 training tasks' adapters, so its answers equal those of the full
    evaluation (a table run: no text encoding whose batching could round differently; a batch holds one
    task's instances). A name that is not a training task fails in one line."""
    train.main(["--ckpt_dir", str(runs / "tiny"), "--out_dir", str(runs / "tbl"), "--task_code", "table", *TINY,
                *TINY_TRAIN, "--lr", "1e-2"])
    flags = ["--ckpt", str(runs / "tbl"), "--systems", "hypernet,hypernet_mean", "--max_per_task", "2",
             "--max_len", "240", "--max_new_tokens", "16"]
    out = runs / "tbl/eval/builtin-2/predictions-hypernet_mean.jsonl"
    preds = lambda: [json.loads(line) for line in out.read_text().splitlines()]  # noqa: E731
    full = ev.main(flags)
    before = preds()
    names = full["tasks"]["seen"]
    res = ev.main(flags + ["--tasks", f"{names[3]},{names[1]}"])
    assert len(names) == 16 and res["tasks"]["seen"] == [names[1], names[3]]
    assert res["tasks"]["unseen"] == full["tasks"]["unseen"] and len(res["tasks"]["unseen"]) > 0
    assert res["systems"]["hypernet_mean"]["settings"]["mean_over"] == 16
    keep = {names[1], names[3], *res["tasks"]["unseen"]}
    assert [(r["id"], r["prediction"]) for r in preds()] == [(r["id"], r["prediction"]) for r in before if r["task"] in keep]
    capsys.readouterr()
    code, err = run_eval_cli("--ckpt", str(runs / "tbl"), "--tasks", f"{names[0]},no_such_task")
    assert code != 0 and err.count("\n") == 0 and "--tasks: no_such_task is not among the run's 16 training tasks" in err, err


def test_task_code_table_evaluates_seen_and_unseen_tasks(runs, capsys):
    """A --task_code table run (codes are task indices) goes through the same evaluation: with its
    adapters still B = 0 every task, seen or unseen (the mean row), answers exactly as the floor's
    mt_lora; --task, which needs a hypernetwork that reads text, is refused in one line."""
    train.main(["--ckpt_dir", str(runs / "tiny"), "--out_dir", str(runs / "table"), "--floor", str(runs / "mt"),
                "--task_code", "table", *TINY, *TINY_TRAIN, "--lr", "1e-12"])
    ev.main(["--ckpt", str(runs / "table"), "--mt_lora_ckpt", str(runs / "mt"), "--systems", "hypernet,mt_lora",
             "--max_per_task", "2", "--max_len", "240", "--max_new_tokens", "16"])
    out = runs / "table" / "eval" / "builtin-2"
    hn, mt = ([json.loads(l) for l in (out / f"predictions-{s}.jsonl").read_text().splitlines()] for s in ("hypernet", "mt_lora"))
    assert {r["split"] for r in hn} == {"seen", "unseen"}
    assert [(r["id"], r["prediction"]) for r in hn] == [(r["id"], r["prediction"]) for r in mt]
    capsys.readouterr()
    code, err = run_eval_cli("--ckpt", str(runs / "table"), "--task", "Do it.", "--input", "x")
    assert code != 0 and err.count("\n") == 0 and "needs a hypernetwork that reads text" in err, err
