#!/bin/bash
# results/sni-late-2026-12-06, training. V116 (../sni-visits-2026-11-30/run.sh: the floor frozen, the
# definition only in the adapter, the task path at 10 x lr, 8 tasks x 2 examples) over a later floor:
# mt_lora230's own checkpoint at step 125 (runs/mt_lora/step_000125 of the 150-step run that
# mt_lora230 continues; see ../sni-v116-2026-11-30/run.sh) instead of step 50, for the 105 steps
# that are left of mt_lora230's budget (125 + 105 = 230 steps of 16 sequences). The flags here
# override that script's (train.py takes the last value of a repeated flag).
#   results/sni-late-2026-12-06/run.sh L125 &                                             # 8 tasks x 2
#   results/sni-late-2026-12-06/run.sh L125W --tasks_per_step 16 --examples_per_task 1 &  # 16 tasks x 1
#   results/sni-late-2026-12-06/run.sh LD125 --def_dropout 0.5                           # the definition in half
# Each on one thread (two side by side on the 2-core VM); log in runs/visits/<name>.log.
cd $(git rev-parse --show-toplevel)
name=$1; shift
exec results/sni-visits-2026-11-30/run.sh $name --floor runs/mt_lora/step_000125 --max_steps 105 \
  --save_every 35 --eval_every 35 --val_per_task 2 --resume "$@"
