#!/bin/bash
# One lane of results/sni-replicate-2026-12-06: V116's recipe (results/sni-visits-2026-11-30) again with
# another --seed, from a floor trained afresh, then the hypernetwork and its shuffled control through eval.py.
#   results/sni-replicate-2026-12-06/run.sh shared-s1 ../shared/data/sni 150 2 1 &   # V116's data and floor schedule
#   results/sni-replicate-2026-12-06/run.sh trimmed-s1 data/sni 230 4 1 &            # make results' (sni-cpu-2026-12-06)
#   results/sni-replicate-2026-12-06/run.sh tlm3-s1 data/sni 230 4 1 "--task_lr_mult 3"    # results/sni-escape-2026-12-06
# Arguments: name, data folder, the floor's schedule length (mt_lora is stopped once step 50 is written),
# --val_per_task, --seed, and optionally train.py flags for the hypernetwork that override the recipe's
# (a later flag wins). Runs of one data folder, schedule and seed share their floor.
# Every step resumes when run again.
set -e
cd "$(git rev-parse --show-toplevel)"
name=$1 data=$2 mt_max=$3 val=$4 seed=$5 extra=${6:-}
r=runs/replicate/$name
f=runs/replicate/floors/$(basename "$data")-$mt_max-s$seed
mkdir -p "$r" "$f"
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
common="--ckpt_dir checkpoints/smollm2-135m --data_dir $data --seed $seed --resume --log_every 5"
floor=$f/mt_lora/step_000050
if [ ! -f "$floor/state.json" ]; then
  python train.py $common --mode mt_lora --out_dir "$f/mt_lora" --max_steps "$mt_max" --save_every 25 \
    --keep_last 10 --eval_every 0 >> "$f/mt_lora.log" 2>&1 &
  pid=$!
  while [ ! -f "$floor/state.json" ]; do sleep 10; kill -0 $pid; done
  kill $pid; wait $pid || true
fi
python train.py $common --floor "$floor" --out_dir "$r/hypernet" --max_steps 180 --save_every 30 --keep_last 10 \
  --eval_every 60 --val_per_task "$val" --tasks_per_step 8 --examples_per_task 2 --task_lr_mult 10 --def_dropout 1 \
  $extra >> "$r/hypernet.log" 2>&1
python eval.py --ckpt "$r/hypernet" --max_per_task 10 --systems hypernet,hypernet_shuffled >> "$r/eval_prompt.log" 2>&1
python eval.py --ckpt "$r/hypernet" --max_per_task 10 --adapter_only --systems hypernet,hypernet_shuffled >> "$r/eval_adapter_only.log" 2>&1
