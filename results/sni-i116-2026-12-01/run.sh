#!/bin/bash
# results/sni-i116-2026-12-01, training: I116 = F116 (results/sni-f116-2026-12-01: D116's recipe with
# the mt_lora floor trainable) with --loss_weight instance: each step's loss is the mean over its
# instances of each one's mean target loss, instead of the mean over target tokens, so a one-word
# answer weighs as much as a paragraph (as in ROUGE-L's mean over instances). Everything else is
# F116's command: 50 + 180 steps = mt_lora230's budget, alone on the 2-core VM with two threads.
cd $(git rev-parse --show-toplevel)
mkdir -p runs/visits
OMP_NUM_THREADS=${THREADS:-2} exec python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
  --floor runs/mt_lora/step_000050 --floor_trainable --tasks_per_step 8 --examples_per_task 2 \
  --save_every 30 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 0.5 --loss_weight instance \
  --max_steps 180 --eval_every 60 --val_per_task 2 --resume \
  --out_dir runs/visits/I116 "$@" > runs/visits/I116.log 2>&1
