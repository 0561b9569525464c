#!/bin/bash
# One lane of the 16-task ablations: each run is E3 with one change, stopped after its step-49 validation.
#   results/ablations-2026-11-30/lane.sh "k1:--iterations 1" "no_emb:--no_module_emb" "prompt:--def_dropout 0" &
#   results/ablations-2026-11-30/lane.sh "k4:--iterations 4" "plain:--kind plain" &
# runs/mt_lora is the multi-task LoRA floor of results/sni-floor-2026-11-30 (its command is there).
cd $(git rev-parse --show-toplevel)
mkdir -p runs/abl
T16=$(paste -sd, results/ablations-2026-11-30/t16.txt)
for spec in "$@"; do
  name=${spec%%:*}; flags=${spec#*:}
  out=runs/abl/$name
  OMP_NUM_THREADS=1 python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni \
    --floor runs/mt_lora/step_000050 --max_steps 75 --tasks_per_step 8 --examples_per_task 2 \
    --save_every 25 --keep_last 10 --log_every 5 --task_lr_mult 10 --def_dropout 1 --tasks $T16 \
    --val_per_task 10 --eval_every 25 --out_dir $out $flags > runs/abl/$name.log 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    if grep -q '"step": 49,.*val_loss_shuffled' $out/metrics.jsonl 2>/dev/null; then kill $pid; break; fi
    sleep 10
  done
  wait $pid 2>/dev/null
  echo "$(date -u +%H:%M:%S) $name done" >> runs/abl/lanes.log
done
