#!/bin/bash
# results/demo-floor-2026-12-07, second round (after run.sh): the recipe that reads the instruction on SNI
# (the definition only in the adapter, --def_dropout 1; the task path at 10 x lr) over the same floor
#   HFD   HF10 with --def_dropout 1
#   SFD   SF with --def_dropout 1 (a shared residual trained without the definition)
# each evaluated with the definition in the prompt and adapter only; the floor adapter only too.
#   results/demo-floor-2026-12-07/more.sh [STEPS]        # 80 by default
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1 PATH=$PWD/.venv/bin:$PATH
N=${1:-80}
R=runs/df
D="--ckpt_dir checkpoints/smollm2-135m --eval_every 20 --log_every 10 --resume"
set -e
hn() { name=$1; shift; python train.py $D --d_h 256 --max_steps $N --save_every $N --floor $R/mt_lora/step_000080 --out_dir $R/$name "$@" > $R/$name.log 2>&1; }
ev() { python eval.py --max_per_task 10 "$@"; }
lane1() {
  hn HFD --task_lr_mult 10 --def_dropout 1
  ev --ckpt $R/HFD --systems hypernet,hypernet_shuffled
  ev --ckpt $R/HFD --systems hypernet,hypernet_shuffled --adapter_only
}
lane2() {
  hn SFD --task_lr_mult 1e-9 --def_dropout 1
  ev --ckpt $R/SFD --systems hypernet
  ev --ckpt $R/SFD --systems hypernet --adapter_only
  ev --ckpt $R/mt_lora --systems base,mt_lora --adapter_only
}
lane1 > $R/lane1b.log 2>&1 &
lane2 > $R/lane2b.log 2>&1 &
wait
