"""How large is the hypernetwork's task-dependent part, next to the floor it sits on? One line per checkpoint.

    python results/sni-replicate-2026-12-06/diagnose.py runs/replicate/shared-s1/hypernet runs/replicate/trimmed-s1/hypernet

For every checkpoint of each run, the seen tasks' adapters (their definitions read as in training):
  ctx_std / emb_rms: spread across tasks of the task context P(e) (RMS over tasks and units of its
                     deviation from the task mean) / RMS of what is added to it before the decoder's
                     first LayerNorm for the first pass (layer + type embeddings, Q(0))
  floor, gen, task:  Frobenius norms, summed over every target module, of the floor's dW, of the
                     generated dW (mean over tasks, RMS) and of its task-varying part (dW_t - mean_t dW)
The dW are scaled as applied (alpha / r); the lightweight dW's norm is that of B_train A_train
(the frozen projections are orthonormal): hypernet.adapter_gram, as adapter_diagnostics.
"""
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import data  # noqa: E402
from hypernet import HyperNetConfig, HyperNetwork, adapter_gram  # noqa: E402
from model import Tokenizer, load_model  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


@torch.no_grad()
def main(runs):
    model = tokenizer = None
    codes = {}
    for run in map(Path, runs):
        cfg = json.loads((run / "config.json").read_text())
        if model is None:
            model = load_model(cfg["ckpt_dir"], max_seq_len=cfg["max_len"])
            tokenizer = Tokenizer(Path(cfg["ckpt_dir"]) / "tokenizer.model")
        tasks = {t.name: t for t in data.load_tasks(cfg["data_dir"], n_heldout=cfg["n_heldout"], seed=cfg["data_seed"],
                                                    log=None).seen}
        texts = [data.task_text(tasks[n], cfg["task_examples"]) for n in cfg["tasks"]]
        for step in sorted(d for d in run.glob("step_*") if (d / "state.json").is_file()):
            hc = json.loads((step / "state.json").read_text())["config"]["hypernet_config"]
            hn = HyperNetwork(HyperNetConfig(**{**hc, "targets": tuple(hc["targets"])}), model.args)
            hn.load_state_dict(load_file(step / "trainable.safetensors"))
            key = tuple(texts)
            if key not in codes:
                codes[key] = hn.encode_tasks(model, tokenizer, texts)
            c, s = hn.cfg, hn.cfg.alpha / hn.cfg.rank
            ctx = hn.task_proj(hn.normalise(codes[key]))                      # (N, d)
            ctx_std = (ctx - ctx.mean(0)).pow(2).mean().sqrt()
            rest = hn.weight_proj(torch.zeros(1, hn.P))                        # (1, d)
            if c.module_emb:
                rest = rest + hn.layer_emb(hn.layer_ids) + hn.type_emb(hn.type_ids)  # (M, d)
            G = adapter_gram(hn.adapters(hn(codes[key]))) * s * s
            N = G.shape[0]
            gen = (G.diagonal().mean()).sqrt()
            task = ((G.diagonal().sum() - G.sum() / N) / N).clamp_min(0).sqrt()
            floor = torch.zeros((), dtype=torch.float64)
            if c.floor_rank:
                s0 = c.floor_alpha / c.floor_rank
                floor = (sum((B.double() @ A.double()).pow(2).sum() for A, B in hn.floors()) * s0 * s0).sqrt()
            print(f"{run} {step.name}: ctx_std {ctx_std:.3f} emb_rms {rest.pow(2).mean().sqrt():.3f} | "
                  f"|dW| floor {floor:.3f} gen {gen:.3f} task {task:.3f} (task/floor {task / floor.clamp_min(1e-12):.3f})",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
