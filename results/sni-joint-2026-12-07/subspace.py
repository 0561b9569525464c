"""Can the lightweight output shape hold what the oracles learned? A lightweight adapter writes only
dW = B_aux M A_aux: M (b, a) in fixed random subspaces of the module's input (a of `in` dimensions) and
output (b of `out`). This measures, per task, which fraction of the energy |dW|^2 of the oracle's
task-specific part (oracle230's LoRA minus mt_lora230's, both plain rank 8, summed over all modules)
falls inside those subspaces (hypernet seed 0, a = b = 64), against the fraction a random dW of the same
modules would put there, and the same for the shared parts (mt_lora230 itself, joint31 - mt_lora230).

    python results/sni-joint-2026-12-07/subspace.py [RUNS]     # runs/ by default: mt_lora230, oracle/, joint31
"""
import statistics
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
import lora  # noqa: E402
from hypernet import latest_checkpoint  # noqa: E402

A_IN, B_OUT, SEED, SCALE = 64, 64, 0, 16.0 / 8  # the hypernetwork's a, b, seed; the LoRAs' alpha / r


def modules(state):
    """{module name: (A (r, in), B (out, r))} of a plain LoRA's trainable state (task dim 0)."""
    return {k[: -len(".lora_A")]: (state[k][0], state[k[: -len("lora_A")] + "lora_B"][0])
            for k in state if k.endswith(".lora_A")}


def energy(parts, aux):
    """(|dW|^2, |dW inside the subspaces|^2, random expectation) summed over modules, for dW = s sum_j B_j A_j."""
    full = inside = expect = 0.0
    for name, terms in parts.items():
        A_aux, B_aux = aux[name.split(".")[-1]]
        dW = SCALE * sum(B.double() @ A.double() for A, B in terms)  # (out, in): small models only
        e = dW.pow(2).sum().item()
        full += e
        inside += (B_aux.double().T @ dW @ A_aux.double().T).pow(2).sum().item()
        expect += e * A_aux.shape[0] / A_aux.shape[1] * B_aux.shape[1] / B_aux.shape[0]
    return full, inside, expect


def main(runs):
    base = modules(load_file(latest_checkpoint(runs / "mt_lora230") / "trainable.safetensors"))
    shapes = {name.split(".")[-1]: (A.shape[1], B.shape[0]) for name, (A, B) in base.items()}
    aux = {t: (lora.semi_orthogonal(A_IN, i, SEED * 1000 + 2 * lora.TARGETS.index(t)),
               lora.semi_orthogonal(o, B_OUT, SEED * 1000 + 2 * lora.TARGETS.index(t) + 1)) for t, (i, o) in shapes.items()}
    neg = lambda m: {n: (A, -B) for n, (A, B) in m.items()}  # noqa: E731
    tasks = subprocess.run([sys.executable, str(ROOT / "results/sni-oracle-2026-12-07/compare.py"), "--past_prior"],
                           capture_output=True, text=True, check=True).stdout.split()[0].split(",")
    print("| dW | n | inside the subspaces, share of |dW|^2 | a random dW's share |\n|---|---|---|---|")
    rows = []
    for t in tasks:
        ckpt = latest_checkpoint(next(runs.glob(f"oracle/*_230/lora/{t}")))
        own = modules(load_file(ckpt / "trainable.safetensors"))
        full, inside, expect = energy({n: [own[n], neg(base)[n]] for n in base}, aux)
        rows.append((inside / full, expect / full))
    print(f"| oracle230 - mt_lora230, median over the tasks (min, max) | {len(rows)} | "
          f"{statistics.median(r[0] for r in rows):.4f} ({min(r[0] for r in rows):.4f}, {max(r[0] for r in rows):.4f}) | "
          f"{statistics.median(r[1] for r in rows):.4f} |")
    joint = modules(load_file(latest_checkpoint(runs / "joint31") / "trainable.safetensors"))
    for label, parts in (("mt_lora230", {n: [base[n]] for n in base}),
                         ("joint31 - mt_lora230", {n: [joint[n], neg(base)[n]] for n in base})):
        full, inside, expect = energy(parts, aux)
        print(f"| {label} | 1 | {inside / full:.4f} | {expect / full:.4f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs")
