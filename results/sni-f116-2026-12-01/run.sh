#!/bin/bash
# results/sni-f116-2026-12-01, training: F116 = D116 (V116's recipe with the definition in half of the
# training prompts) with the floor trainable (--floor_trainable): the floor, mt_lora's step 50, goes on
# training at the plain lr as the multi-task LoRA would, and the hypernetwork learns the task residual
# on top. 50 + 180 steps = mt_lora230's budget. Alone on the 2-core VM with two threads (THREADS=1 to
# run it beside something else).
cd $(git rev-parse --show-toplevel)
mkdir -p runs/visits
OMP_NUM_THREADS=${THREADS:-2} exec python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
  --floor runs/mt_lora/step_000050 --floor_trainable --tasks_per_step 8 --examples_per_task 2 \
  --save_every 30 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 0.5 \
  --max_steps 180 --eval_every 60 --val_per_task 2 --resume \
  --out_dir runs/visits/F116 "$@" > runs/visits/F116.log 2>&1
