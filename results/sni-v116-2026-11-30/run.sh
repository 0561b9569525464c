#!/bin/bash
# results/sni-v116-2026-11-30: V116 (results/sni-visits-2026-11-30) through eval.py on the full
# subset, against mt_lora trained for the same 230 steps (V116's floor, 50 mt_lora steps, + its 180).
# Adapter only at 20 instances per task; the definition in the prompt at 10 (what fitted the session).
# Two single-threaded lanes; eval.py calls share V116's evaluation folders safely.
# RUNS: the folder holding mt_lora (the 150-step run of results/sni-floor-2026-11-30) and visits/V116.
cd $(git rev-parse --show-toplevel)
RUNS=${RUNS:-runs}
export OMP_NUM_THREADS=1
ev="python eval.py --ckpt $RUNS/visits/V116"
mkdir -p runs/s20
lane1() {
  $ev --max_per_task 20 --adapter_only --systems hypernet,hypernet_shuffled
  $ev --max_per_task 10 --systems hypernet,hypernet_shuffled
}
lane2() {
  # mt_lora at the same budget: its 150-step run resumed at step 125, the schedule stretched to 230
  # (train.py says how: lr 5.18e-04 at step 125, was 1.69e-04), validated once at the end
  cp -a $RUNS/mt_lora $RUNS/mt_lora230 && rm -rf $RUNS/mt_lora230/eval
  python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni --mode mt_lora \
    --out_dir $RUNS/mt_lora230 --resume --max_steps 230 --eval_every 230 --save_every 35 --keep_last 10 --log_every 5
  $ev --max_per_task 20 --adapter_only --systems mt_lora --mt_lora_ckpt $RUNS/mt_lora230
  $ev --max_per_task 10 --systems mt_lora --mt_lora_ckpt $RUNS/mt_lora230
}
lane1 > runs/s20/lane1.log 2>&1 &
lane2 > runs/s20/lane2.log 2>&1 &
wait
# the two tables (every prediction above is reused)
$ev --max_per_task 20 --adapter_only --systems hypernet,hypernet_shuffled,mt_lora --mt_lora_ckpt $RUNS/mt_lora230
$ev --max_per_task 10 --systems hypernet,hypernet_shuffled,mt_lora --mt_lora_ckpt $RUNS/mt_lora230
