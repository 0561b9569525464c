#!/bin/bash
# results/demo-floor-2026-12-07, third round: the definition in half of the training prompts
# (--def_dropout 0.5), so that the residual is trained both with and without it
#   HFH   HF10 with --def_dropout 0.5
#   SFH   SF with --def_dropout 0.5
# evaluated at 50 instances a task, the definition in the prompt and adapter only.
#   results/demo-floor-2026-12-07/half.sh [STEPS]        # 80 by default
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1 PATH=$PWD/.venv/bin:$PATH
N=${1:-80}
R=runs/df
D="--ckpt_dir checkpoints/smollm2-135m --eval_every 20 --log_every 10 --resume"
set -e
hn() { name=$1; shift; python train.py $D --d_h 256 --max_steps $N --save_every $N --floor $R/mt_lora/step_000080 --out_dir $R/$name "$@" > $R/$name.log 2>&1; }
ev() { python eval.py --max_per_task 50 "$@"; }
lane1() {
  hn HFH --task_lr_mult 10 --def_dropout 0.5
  ev --ckpt $R/HFH --systems hypernet,hypernet_shuffled
  ev --ckpt $R/HFH --systems hypernet,hypernet_shuffled --adapter_only
}
lane2() {
  hn SFH --task_lr_mult 1e-9 --def_dropout 0.5
  ev --ckpt $R/SFH --systems hypernet
  ev --ckpt $R/SFH --systems hypernet --adapter_only
}
lane1 > $R/lane1d.log 2>&1 &
lane2 > $R/lane2d.log 2>&1 &
wait
