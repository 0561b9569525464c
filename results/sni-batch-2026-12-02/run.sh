#!/bin/bash
# results/sni-batch-2026-12-02, training: B116 tests one thing every hypernetwork run over the step-50
# floor shares with its shuffled control but not with mt_lora230, whose one-word deficit
# results/sni-i116-2026-12-01 found: the batch shape. B116 is F116's command
# (results/sni-f116-2026-12-01: D116's recipe, the floor trainable, 50 + 180 steps = mt_lora230's
# budget) with 4 tasks x 4 examples a step, mt_lora230's shape, instead of 8 x 2. Same examples a
# step, so the same token budget. Alone on the 2-core VM with two threads (THREADS=1 beside another job).
cd $(git rev-parse --show-toplevel)
mkdir -p runs/visits
OMP_NUM_THREADS=${THREADS:-2} exec python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
  --floor runs/mt_lora/step_000050 --floor_trainable --tasks_per_step 4 --examples_per_task 4 \
  --save_every 30 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 0.5 \
  --max_steps 180 --eval_every 60 --val_per_task 2 --resume \
  --out_dir runs/visits/B116 "$@" > runs/visits/B116.log 2>&1
