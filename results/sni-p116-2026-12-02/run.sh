#!/bin/bash
# results/sni-p116-2026-12-02, training. Every hypernetwork run over the step-50 floor so far (V116,
# D116, F116, I116, B116) dropped the definition from at least half of its training prompts
# (--def_dropout 1 or 0.5), while mt_lora230, which they all trail with the definition in the
# prompt, always had it. Two runs, each F116's command (results/sni-f116-2026-12-01: the floor
# trainable, 8 tasks x 2 examples, 50 + 180 steps = mt_lora230's budget) with one change:
#   P116: --def_dropout 0      the definition in every training prompt, as mt_lora230 had it
#   M116: --task_lr_mult 1e-9  the task path frozen at its zero start (as E5 in ../sni-lr-2026-11-30):
#                              F116's schedule, batch and definition dropout with no task-specific adapter
#   results/sni-p116-2026-12-02/run.sh P116 --def_dropout 0 &
#   results/sni-p116-2026-12-02/run.sh M116 --task_lr_mult 1e-9 &
# Two single-threaded lanes side by side on the 2-core VM (THREADS=2 for one run alone).
cd $(git rev-parse --show-toplevel)
name=$1; shift
mkdir -p runs/visits
OMP_NUM_THREADS=${THREADS:-1} exec python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
  --floor runs/mt_lora/step_000050 --floor_trainable --tasks_per_step 8 --examples_per_task 2 \
  --save_every 30 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 0.5 \
  --max_steps 180 --eval_every 60 --val_per_task 2 --resume \
  --out_dir runs/visits/$name "$@" > runs/visits/$name.log 2>&1
