#!/bin/bash
# One run of results/sni-visits-2026-11-30: E3's recipe (adapter only, task path at 10 x lr, over the
# frozen multi-task floor runs/mt_lora/step_000050 of results/sni-floor-2026-11-30) with extra flags.
#   results/sni-visits-2026-11-30/run.sh V116 --max_steps 180 --eval_every 60 --val_per_task 2 &
#   results/sni-visits-2026-11-30/run.sh R16 --tasks $(paste -sd, results/sni-visits-2026-11-30/r16.txt) \
#       --max_steps 75 --eval_every 25 --val_per_task 10 --save_every 25 &
cd $(git rev-parse --show-toplevel)
name=$1; shift
mkdir -p runs/visits
OMP_NUM_THREADS=1 exec python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
  --floor runs/mt_lora/step_000050 --tasks_per_step 8 --examples_per_task 2 \
  --save_every 30 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 1 \
  --out_dir runs/visits/$name "$@" > runs/visits/$name.log 2>&1
