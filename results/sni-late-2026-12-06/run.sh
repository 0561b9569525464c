#!/bin/bash
# results/sni-late-2026-12-06, training. V116 (results/sni-visits-2026-11-30: the floor frozen, the
# definition only in the adapter, the task path at 10 x lr, 8 tasks x 2 examples) over a later floor:
# mt_lora230's own checkpoint at step 125 (runs/mt_lora/step_000125 of the 150-step run that
# mt_lora230 continues; see ../sni-v116-2026-11-30/run.sh) instead of step 50, for the 105 steps
# that are left of mt_lora230's budget (125 + 105 = 230 steps of 16 sequences).
#   results/sni-late-2026-12-06/run.sh L125 &                                             # 8 tasks x 2
#   results/sni-late-2026-12-06/run.sh L125W --tasks_per_step 16 --examples_per_task 1 &  # 16 tasks x 1
#   results/sni-late-2026-12-06/run.sh LD125 --def_dropout 0.5                           # the definition in half
# Two single-threaded lanes side by side on the 2-core VM (THREADS=2 for one run alone).
cd $(git rev-parse --show-toplevel)
name=$1; shift
mkdir -p runs/visits
OMP_NUM_THREADS=${THREADS:-1} exec python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
  --floor runs/mt_lora/step_000125 --tasks_per_step 8 --examples_per_task 2 \
  --save_every 35 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 1 \
  --max_steps 105 --eval_every 35 --val_per_task 2 --resume \
  --out_dir runs/visits/$name "$@" > runs/visits/$name.log 2>&1
