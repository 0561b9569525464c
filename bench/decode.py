"""eval.py's decoding on real SNI tasks, three batching policies (not a test): prints figures, the last line is JSON.

    OMP_NUM_THREADS=1 python bench/decode.py [--tasks 12] [--per_task 10] [--batch_size 16] [--threads 1]

The demo model (checkpoints/smollm2-135m, fp32, CPU, no adapter) answers --per_task held-out instances
of the first --tasks seen tasks of ../shared/data/sni, greedy, each task's own budget and newline rule,
through eval.decode, once with the definition in the prompt and once without (adapter-only prompts):

    shared      eval.py now: one task per batch, the rows' common prompt start prefilled once
                (generate(share_prefix=True))
    per_task    the same batches, every row prefilled whole (share_prefix off)
    cross_task  eval.py before 2026-12-01: batches of any tasks with the same budget and newline
                rule, sorted by prompt length, every row prefilled whole

Per policy: wall seconds, seconds per instance, prompt tokens prefilled (counting the shared prefix
once per batch) and how many answers equal the cross_task ones. Answers may differ where float
rounding of other matmul shapes flips a near-tie of greedy decoding; the mean ROUGE-L shows what
that is worth.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import data  # noqa: E402
import eval as ev  # noqa: E402
from model import Tokenizer, load_model  # noqa: E402

SNI_DIR = ROOT.parent / "shared" / "data" / "sni"
DEMO_CKPT = ROOT / "checkpoints" / "smollm2-135m"


def run(model, tokenizer, jobs, nl, batch_size, policy):
    """Decode jobs under a policy; -> (answers, seconds, prompt tokens prefilled). The prefilled count
    is read off the model's own forward passes (every pass over more than one token is a prefill)."""
    if policy == "cross_task":  # the old batching: one group per (newline rule, budget)
        jobs = [{**j, "task": (j["newline"], j["budget"])} for j in jobs]
    real_generate, real_forward, prefilled = ev.generate, model.forward_hidden, [0]

    def forward_hidden(tokens, *a, **k):
        prefilled[0] += tokens.numel() if tokens.shape[1] > 1 else 0
        return real_forward(tokens, *a, **k)
    model.forward_hidden = forward_hidden
    ev.generate = lambda *a, share_prefix, **k: real_generate(*a, share_prefix=share_prefix and policy == "shared", **k)
    try:
        t0 = time.perf_counter()
        out = ev.decode(model, tokenizer, jobs, batch_size, lambda rows: None, nl, policy)
        seconds = time.perf_counter() - t0
    finally:
        ev.generate, model.forward_hidden = real_generate, real_forward
    return out, seconds, prefilled[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=12)
    p.add_argument("--per_task", type=int, default=10)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data_dir", default=str(SNI_DIR))
    a = p.parse_args()
    if not Path(a.data_dir, "tasks").is_dir():
        raise SystemExit(f"{a.data_dir}: no SNI tasks/ folder (this benchmark reads real SNI tasks)")
    torch.set_num_threads(a.threads)
    tokenizer = Tokenizer(DEMO_CKPT / "tokenizer.model")
    model = load_model(DEMO_CKPT)
    tasks = data.load_tasks(a.data_dir, log=None).seen[: a.tasks]
    nl = ev.newline_ids(tokenizer)
    results = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), fp32 CPU; {len(tasks)} tasks x "
          f"{a.per_task} instances, batch size {a.batch_size}")
    for setting, with_def in (("definition in prompt", True), ("adapter only", False)):
        jobs = [{"prompt": ev.prompt_ids(tokenizer, t, inst, 0, False, with_def, 1024, ev.budget(tokenizer, t, 128)),
                 "budget": ev.budget(tokenizer, t, 128), "task": ti, "row": None,
                 "newline": not any("\n" in r for i in t.heldout + t.train for r in i.outputs)}
                for ti, t in enumerate(tasks) for inst in t.heldout[: a.per_task]]
        refs = [inst.outputs for t in tasks for inst in t.heldout[: a.per_task]]
        res = {}
        with torch.no_grad():
            for policy in ("cross_task", "per_task", "shared"):
                out, s, n = run(model, tokenizer, jobs, nl, a.batch_size, policy)
                rouge = ev.compute_metrics(out, refs)["rougeL"]
                res[policy] = {"seconds": round(s, 1), "s_per_instance": round(s / len(jobs), 3), "prefilled": n,
                               "rougeL": rouge, "answers": out}
        print(f"\n{setting}: {len(jobs)} instances, {sum(len(j['prompt']) for j in jobs)} prompt tokens")
        print("| policy | seconds | s / instance | prompt tokens prefilled | answers equal to cross_task | ROUGE-L | speed-up |")
        print("|---|---|---|---|---|---|---|")
        for policy, r in res.items():
            same = sum(x == y for x, y in zip(r["answers"], res["cross_task"]["answers"]))
            print(f"| {policy} | {r['seconds']} | {r['s_per_instance']} | {r['prefilled']:,} | {same}/{len(jobs)} | "
                  f"{r['rougeL']:.2f} | {res['cross_task']['seconds'] / r['seconds']:.2f}x |")
        results[setting] = {k: {kk: vv for kk, vv in v.items() if kk != "answers"} for k, v in res.items()}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\npeak RSS {peak:.2f} GB")
    print(json.dumps({"threads": torch.get_num_threads(), "peak_rss_gb": round(peak, 2), "results": results}))


if __name__ == "__main__":
    main()
