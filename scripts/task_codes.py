"""Diagnostic: are the task codes the hypernetwork reads distinct, and does a reworded definition find its task?

    python scripts/task_codes.py --ckpt_dir checkpoints/smollm2-135m --data_dir data/sni \
        --rewordings results/sni-codes-2026-11-30/rewordings.json [--hypernet runs/<hypernet run>]

The code of a task is what the hypernetwork's decoder sees: the frozen base model's states over
"Definition: ...", mean-pooled, then centred on the seen tasks' mean and scaled to unit RMS
(hypernet.encode_tasks, fit_task_stats). With --hypernet, that run's saved statistics are used;
without it, they are fitted here on the seen tasks, which is what training starts from.
Prints markdown:

- mean pairwise cosine of the seen tasks' codes, within the MMLU subjects, within the other tasks,
  and across the two groups;
- for each reworded definition (a JSON object task name -> new text), the rank of its own task
  among all seen tasks by cosine (1 = found), and which task came first.

If codes are distinct and rewordings find their task, the encoder carries the instruction, and
a hypernetwork that ignores it fails in the decoder or in training, not in the input.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import data  # noqa: E402
from hypernet import HyperNetConfig, HyperNetwork, load_trained  # noqa: E402
from model import Tokenizer, load_model  # noqa: E402


def mean_offdiag(c: torch.Tensor, rows, cols) -> float:
    vals = [c[i, j].item() for i in rows for j in cols if i != j]
    return sum(vals) / len(vals) if vals else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt_dir", default="checkpoints/smollm2-135m")
    p.add_argument("--data_dir", default="data/sni")
    p.add_argument("--rewordings", required=True, help="JSON object: seen task name -> reworded definition")
    p.add_argument("--hypernet", default=None, help="a train.py hypernet run (or step dir): use its code statistics")
    a = p.parse_args(argv)
    try:
        rewordings = json.loads(Path(a.rewordings).read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {a.rewordings}: {e}")
    torch.set_grad_enabled(False)
    model = load_model(a.ckpt_dir, device="cpu", dtype=torch.float32, max_seq_len=512)
    tokenizer = Tokenizer(Path(a.ckpt_dir) / "tokenizer.model")
    seen = data.load_tasks(a.data_dir, log=None).seen
    names = [t.name for t in seen]
    unknown = sorted(set(rewordings) - set(names))
    if unknown:
        raise SystemExit(f"error: {a.rewordings}: not seen tasks of {a.data_dir}: {', '.join(unknown)}")
    texts = [data.task_text(t) for t in seen]
    if a.hypernet:
        hn = load_trained(a.hypernet, model.args)
        raw = hn.encode_tasks(model, tokenizer, texts)
    else:
        hn = HyperNetwork(HyperNetConfig(), model.args)
        raw = hn.fit_task_stats(model, tokenizer, texts)
    norm = lambda x: torch.nn.functional.normalize((x - hn.task_mean) / hn.task_scale, dim=-1)  # noqa: E731
    e = norm(raw)
    cos = e @ e.T
    mmlu = [i for i, n in enumerate(names) if "mmmlu" in n]
    other = [i for i, n in enumerate(names) if "mmmlu" not in n]
    print(f"# Task codes: {len(names)} seen tasks of {a.data_dir}, statistics "
          f"{'of ' + a.hypernet if a.hypernet else 'fitted on these tasks'}\n")
    print("| pairs | mean cosine |\n|---|---|")
    print(f"| MMLU x MMLU ({len(mmlu)}) | {mean_offdiag(cos, mmlu, mmlu):.3f} |")
    print(f"| other x other ({len(other)}) | {mean_offdiag(cos, other, other):.3f} |")
    print(f"| MMLU x other | {mean_offdiag(cos, mmlu, other):.3f} |\n")
    r = norm(hn.encode_tasks(model, tokenizer, [f"Definition: {t}" for t in rewordings.values()]))
    sims = r @ e.T  # (n_rewordings, n_seen)
    print("| task | rank of its own task | cosine to it | first | cosine to first |\n|---|---|---|---|---|")
    found = 0
    for k, name in enumerate(rewordings):
        order = sims[k].argsort(descending=True).tolist()
        own = names.index(name)
        rank = order.index(own) + 1
        found += rank == 1
        print(f"| {name} | {rank} | {sims[k, own]:.3f} | {names[order[0]]} | {sims[k, order[0]]:.3f} |")
    print(f"\nfound first: {found} of {len(rewordings)}")


if __name__ == "__main__":
    main()
