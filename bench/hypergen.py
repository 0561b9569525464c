"""Adapter generation speed of the hypernetwork for a model shape (not a test): last line is JSON.

    python bench/hypergen.py --params path/to/params.json [--device cpu|cuda] [--repeats 30]
    python bench/hypergen.py --llama3_8b                    # writes Llama 3 8B's params.json to a temp file

No weights needed: a fresh HyperNetwork (default HyperNetConfig, its default K) with the head
filled with random values (a trained head is dense; zero weights would be unrepresentative),
one random task code per call, eval mode, inference_mode. Times hn(code) + hn.adapters(W),
one task per call, median over --repeats after 3 warm-up calls (cuda: synchronised).
Target for Llama 3 8B on the 2-core CPU: < 20M hypernet parameters, < 100 ms per adapter.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hypernet import HyperNetConfig, HyperNetwork, summary  # noqa: E402
from model import ModelArgs  # noqa: E402

LLAMA3_8B = {"dim": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 8, "vocab_size": 128256,
             "multiple_of": 1024, "ffn_dim_multiplier": 1.3, "norm_eps": 1e-05, "rope_theta": 500000.0}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", help="params.json of the model shape")
    p.add_argument("--llama3_8b", action="store_true", help="use Llama 3 8B's params.json")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--iterations", type=int, default=None, help="K (default: HyperNetConfig's)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.llama3_8b:
        path = Path(tempfile.mkdtemp()) / "params.json"
        path.write_text(json.dumps(LLAMA3_8B))
        a.params = str(path)
    if not a.params:
        p.error("give --params or --llama3_8b")
    args = ModelArgs.from_json(a.params)
    cfg = HyperNetConfig() if a.iterations is None else HyperNetConfig(iterations=a.iterations)
    s = summary(cfg, args)

    torch.manual_seed(0)
    hn = HyperNetwork(cfg, args).to(a.device).eval()
    torch.nn.init.normal_(hn.head.weight, std=0.02)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(a.repeats + 3):
            code = torch.randn(1, args.dim, device=a.device)
            sync()
            t0 = time.perf_counter()
            hn.adapters(hn(code))
            sync()
            if i >= 3:
                times.append(1000 * (time.perf_counter() - t0))
    ms = statistics.median(times)
    print(f"torch {torch.__version__}, device {a.device}, {torch.get_num_threads()} threads, fp32")
    print(f"model shape: dim {args.dim}, {args.n_layers} layers -> {s['modules']} target modules")
    print(f"hypernet: {s['hypernet_params']:,} params (d_h {cfg.d_h}, {cfg.n_layers} layers, K={cfg.iterations}); "
          f"{s['numbers_per_module']:,} numbers per module, {s['adapter_numbers']:,} per task adapter "
          f"(rank {cfg.rank} when exported; plain LoRA of rank {s['plain_lora_rank_same_numbers']:.3f} "
          "has as many numbers)")
    print(f"generation: median {ms:.1f} ms per task (min {min(times):.1f}, max {max(times):.1f}, {len(times)} calls)")
    print(json.dumps({"hypernet_params": s["hypernet_params"], "adapter_numbers": s["adapter_numbers"],
                      "gen_ms": round(ms, 2), "iterations": cfg.iterations}))


if __name__ == "__main__":
    main()
