"""Diagnostic: can the decoder write what a bank of per-task adapters learned, from the tasks' text?

    python scripts/distil.py --bank runs/bank31s --out_dir runs/dist31s [--steps 300 --lr 1e-2]
    python scripts/distil.py --bank runs/bank31s --out_dir runs/lin31s --linear

--bank is a train.py hypernet run with --task_code table: one learned lightweight adapter per
training task, no decoder (docs/DESIGN.md: "Which part fails?", "Distillation"). This script builds a fresh text
hypernetwork of the same configuration, copies the bank's task-independent part (S and the floor),
and regresses the decoder onto the bank's adapters in weight-update space, one task per definition:

    loss = sum_i sum_m |dW_m(hn(e_i)) - dW_m(bank_i)|^2 / sum_i sum_m |dW_m(bank_i) - mean_j dW_m(bank_j)|^2

dW = B A is compared, not the (A, B) numbers: any factorisation of the same dW is the same adapter. The
denominator is the task-specific energy, so loss 1 is "every task gets the mean adapter dW" and 0 is
the bank itself. The decoder starts at the mean bank row (put into S, the head's output zero). A bank
trained with --table_init each gives every task its own random A, so its task-specific dW lies in
unrelated row spaces, one per task and module, which the decoder would have to reproduce; with
--table_init same the tasks share their start and differ mostly in B, in one basis. No language-model
forward is needed (the codes are encoded once), so the fit is cheap. The result is a train.py-style run
(config.json, step_000000/) that eval.py evaluates like any hypernet run, with its seen tasks the
bank's: on them it can at best equal the bank; on unseen tasks it says whether what the decoder
learned from 31 definitions carries to a new one. distil.jsonl logs the fit.

--linear fits no decoder: the hypernetwork's direct path (--direct_rank, one row per task) becomes
the least-squares linear map from a task's normalised code e to the bank row minus the rows' mean,
c(e) = E e / sqrt(dim) (E: the training tasks' codes) and U = pinv(E E^T / sqrt(dim)) (T - mean T).
A training task gets its own row back (its code is in E's span; the centred Gram has rank n - 1,
as the centred rows do); a new task gets the minimum-norm linear regression of its code onto the
rows: whether the bank's rows are a linear function of the definitions that carries to new ones.
"""
import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import data  # noqa: E402
import lora  # noqa: E402
import train  # noqa: E402
from hypernet import HyperNetConfig, HyperNetwork, find_checkpoint, load_trained  # noqa: E402
from model import Tokenizer, load_model  # noqa: E402


def dw_inner(X, Y):
    """<dW(X_i), dW(Y_i)> summed over modules, per task: X, Y = hn.adapters(W), lists of (A (N, r, a), B (N, b, r))."""
    return sum(((Bx.transpose(1, 2) @ By) * (Ax @ Ay.transpose(1, 2))).sum((1, 2)) for (Ax, Bx), (Ay, By) in zip(X, Y))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank", required=True, help="a train.py --task_code table run (its latest checkpoint)")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch", type=int, default=8, help="tasks per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--linear", action="store_true", help="no decoder fit: the direct path (direct_rank = tasks) set to "
                   "the least-squares linear map from the normalised codes to the bank's rows (see above)")
    a = p.parse_args(argv)
    out = Path(a.out_dir)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"error: {out}: exists and is not empty")
    try:
        ckpt = find_checkpoint(a.bank)
        cfg = json.loads((ckpt / "state.json").read_text())["config"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"error: --bank {a.bank}: {e}")
    if cfg.get("hypernet_config", {}).get("task_code") != "table":
        raise SystemExit(f"error: --bank {ckpt}: not a --task_code table run")

    torch.manual_seed(a.seed)
    model = load_model(cfg["ckpt_dir"], device="cpu", dtype=torch.float32, max_seq_len=cfg["max_len"] + 64)
    tokenizer = Tokenizer(Path(cfg["ckpt_dir"]) / "tokenizer.model")
    bank = load_trained(ckpt, model.args)
    by_name = {t.name: t for t in data.load_tasks(cfg["data_dir"], cfg["split"], english_only=cfg["english_only"],
                                                  n_heldout=cfg["n_heldout"], seed=cfg["data_seed"], log=None).seen}
    tasks = [by_name[n] for n in bank.cfg.code_tasks]
    hc = {**asdict(bank.cfg), "task_code": "text", "code_tasks": (), "direct_rank": len(tasks) if a.linear else 0}
    hn = HyperNetwork(HyperNetConfig(**hc), model.args)
    with torch.no_grad():  # the task-independent part is the bank's own, and its mean row: the decoder starts
        hn.shared.copy_(bank.shared + bank.code_table.mean(0) * bank.mask)  # at the mean adapter (head = 0, so
        hn.head.bias.zero_()                                               # W_K = 0) and learns what differs
        for (A, B), (A0, B0) in zip(hn.floors(), bank.floors()) if hn.cfg.floor_rank else ():
            A.copy_(A0)
            B.copy_(B0)
    codes = hn.fit_task_stats(model, tokenizer, [data.task_text(t, cfg["task_examples"]) for t in tasks])
    del model
    n = len(tasks)
    if a.linear:  # c(e) = E e / sqrt(dim), the code's similarity to each training code; U = pinv(E E^T / sqrt(dim)) T
        with torch.no_grad():
            E = hn.normalise(codes)
            hn.direct_proj.copy_(E / math.sqrt(E.shape[1]))
            c = (E @ hn.direct_proj.T).double()  # (n, n): as forward() computes it, so U matches what it multiplies
            T = ((bank.code_table - bank.code_table.mean(0)) * bank.mask).double().flatten(1)  # rows minus their mean
            hn.direct.copy_((torch.linalg.pinv(c, hermitian=True) @ T).view_as(hn.direct))
            eig = torch.linalg.eigvalsh(c)  # ascending
            print(f"linear map: Gram eigenvalues {eig[1:].min():.3g} .. {eig.max():.3g} (the smallest, ~0, is the centring's)")
        a.steps = 0
    with torch.no_grad():
        target = bank.adapters(bank(torch.arange(n)))
        energy = dw_inner(target, target)                    # (n,) |dW_i|^2
        # task-specific energy sum_i |dW_i - mean dW|^2 = sum_i |dW_i|^2 - n |mean dW|^2, with mean dW = (1/n) sum_i B_i A_i
        tot = [(torch.einsum("nbr,nra->ba", B, A) / n) for A, B in target]
        spread = (energy.sum() - n * sum(m.pow(2).sum() for m in tot)).item()
    print(f"{ckpt}: {n} tasks; dW energy per task {energy.mean():.4g}, task-specific share "
          f"{spread / energy.sum().item():.3f}")

    params = [p for name, p in hn.named_parameters() if name != "shared" and not name.startswith("floor.")]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    g = torch.Generator().manual_seed(a.seed)
    log, t0 = [], time.perf_counter()

    def fit(idx):
        pred = hn.adapters(hn(codes[idx]))
        tgt = [(A[idx], B[idx]) for A, B in target]
        return (dw_inner(pred, pred) - 2 * dw_inner(pred, tgt) + energy[idx]).sum() / spread * n / len(idx)
    for step in range(a.steps + 1):
        if step % 50 == 0 or step == a.steps:  # the fit after `step` updates, on every task
            with torch.no_grad():
                full = fit(torch.arange(n)).item()
            log.append({"step": step, "loss": full, "elapsed": round(time.perf_counter() - t0, 1)})
            print(f"step {step:5d} | unexplained task-specific dW {full:.4f} | {log[-1]['elapsed']:.0f} s", flush=True)
        if step == a.steps:
            break
        lr = a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))  # cosine to lr / 10
        for grp in opt.param_groups:
            grp["lr"] = lr
        idx = torch.randperm(n, generator=g)[: a.batch]
        loss = fit(idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    # a train.py-style run: eval.py reads config.json's fields through step_000000/state.json
    config = {**cfg, "out_dir": str(out), "task_code": "text", "hypernet_config": {**hc, "targets": list(hc["targets"])},
              "max_steps": 0, "resume": False, "distilled_from": str(ckpt),
              "distil": {"steps": a.steps, "lr": a.lr, "batch": a.batch, "seed": a.seed, "linear": a.linear,
                         "final_loss": log[-1]["loss"]}}
    out.mkdir(parents=True, exist_ok=True)
    lora.write_atomic(out / "config.json", json.dumps(config, indent=1))
    lora.write_atomic(out / "distil.jsonl", "".join(json.dumps(r) + "\n" for r in log))
    train.save_checkpoint(out, 0, hn, opt, config, keep_last=1)  # step_000000/, written atomically
    print(f"wrote {out / 'step_000000'}: eval with  python eval.py --ckpt {out} --systems hypernet,hypernet_shuffled")


if __name__ == "__main__":
    main()
