"""Replay make results' schedule with this run's measured job times: the previous one (both training lanes,
then the eval groups dealt round-robin: what ran here) and scripts/results.py's current one (a free lane
takes the next ready group). Times in minutes.

    python results/sni-cpu-2026-12-06/replay.py results/sni-cpu-2026-12-06/jobs.json 1 21.8     # as run
    python results/sni-cpu-2026-12-06/replay.py results/sni-cpu-2026-12-06/jobs.json 2.0 21.8   # 20 per task

21.8: minutes after the start when the hypernetwork's step-30 checkpoint appeared (its directory's mtime,
13:03:58); the base model's groups are ready from then on."""
import json, sys
jobs = json.load(open(sys.argv[1]))
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0  # eval time multiplier (20 vs 10 per task)
T = {k: v["seconds"] / 60 * (scale if k.startswith("eval_") else 1) for k, v in jobs.items()}
print({k: round(v, 1) for k, v in T.items()})
mt_end = T["train_mt_lora"]
hn_end = T["train_lora"] + T["train_hypernet"]  # lane 2 as it ran
hn_first = float(sys.argv[3]) if len(sys.argv) > 3 else hn_end
old_groups = ["eval_base", "eval_fewshot", "eval_base_chat", "eval_fewshot_chat", "eval_hypernet_hypernet_shuffled",
              "eval_mt_lora_lora", "eval_adapter_only_hypernet_hypernet_shuffled", "eval_adapter_only_mt_lora_lora"]
start = max(mt_end, hn_end)
old = max(start + sum(T[g] for g in old_groups[i::2]) for i in range(2))
print(f"old: training ends {start:.1f}, evaluation ends {old:.1f}")
pool = ["eval_hypernet_hypernet_shuffled", "eval_fewshot", "eval_fewshot_chat", "eval_mt_lora_lora",
        "eval_adapter_only_hypernet_hypernet_shuffled", "eval_adapter_only_mt_lora_lora", "eval_base_chat", "eval_base"]
order = pool if len(sys.argv) <= 4 else sys.argv[4].split(",")
ready = {g: (hn_first if g.replace("eval_", "") in ("base", "fewshot", "base_chat", "fewshot_chat") else hn_end)
         for g in order}
free = [mt_end, hn_end]
todo = list(order)
while todo:
    i = min(range(2), key=lambda k: free[k])
    t = free[i]
    cand = [g for g in todo if ready[g] <= t]
    if not cand:
        free[i] = min(ready[g] for g in todo)
        continue
    g = cand[0]
    todo.remove(g)
    free[i] = t + T[g]
print(f"new: evaluation ends {max(free):.1f}")
