#!/bin/bash
# ROUGE-L, adapter only, of E3 and E5 (results/sni-lr-2026-11-30) on the held-out instances of their
# 16 tasks (T16), and of the floor they share (mt_lora step 50). RUNS: the folder holding those runs.
cd $(git rev-parse --show-toplevel)
RUNS=${RUNS:-runs}
# an SNI folder whose split is T16 alone: seen = T16 (same held-out instances as in training), no unseen
mkdir -p runs/sni_t16/splits/default
ln -sfn "$(realpath ../shared/data/sni/tasks)" runs/sni_t16/tasks
tr ',' '\n' < results/ablations-2026-11-30/t16.txt > runs/sni_t16/splits/default/train_tasks.txt
: > runs/sni_t16/splits/default/test_tasks.txt
export OMP_NUM_THREADS=1
python eval.py --ckpt $RUNS/e3_t16_adonly_m10 --data_dir runs/sni_t16 --adapter_only --max_per_task 20 \
  --systems hypernet,hypernet_shuffled,mt_lora --mt_lora_ckpt $RUNS/mt_lora/step_000050
python eval.py --ckpt $RUNS/e3_t16_adonly_m10 --data_dir runs/sni_t16 --adapter_only --max_per_task 20 --systems base
python eval.py --ckpt $RUNS/e3_t16_adonly_m10 --data_dir runs/sni_t16 --adapter_only --max_per_task 20 \
  --systems base,hypernet,hypernet_shuffled,mt_lora --mt_lora_ckpt $RUNS/mt_lora/step_000050  # assembles the table
python eval.py --ckpt $RUNS/e5_t16_adonly_shared_only --data_dir runs/sni_t16 --adapter_only --max_per_task 20 \
  --systems hypernet
# E3 - E5, paired over the same instances
python -c "
import json, eval as ev
r = lambda run: [json.loads(l) for l in open(f'$RUNS/{run}/eval/sni_t16-75-adapter_only/predictions-hypernet.jsonl')]
print('E3 - E5:', ev.paired(r('e3_t16_adonly_m10'), r('e5_t16_adonly_shared_only'))['seen'])"
