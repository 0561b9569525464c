#!/bin/bash
# results/demo-floor-2026-12-07, later rounds (after run.sh): HF10 and SF over the same floor, trained with
# the definition removed from a share P of the training prompts (--def_dropout P), each evaluated at K
# instances a task with the definition in the prompt and adapter only:
#   results/demo-floor-2026-12-07/more.sh D 1 10     # HFD, SFD: V116's recipe (the definition only in the
#                                                    # adapter); the floor adapter only too (then eval50.sh)
#   results/demo-floor-2026-12-07/more.sh H 0.5 50   # HFH, SFH: the definition in half of the prompts
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1 PATH=$PWD/.venv/bin:$PATH
X=$1 P=$2 K=$3
R=runs/df
D="--ckpt_dir checkpoints/smollm2-135m --eval_every 20 --log_every 10 --resume"
set -e
hn() { name=$1; shift; python train.py $D --d_h 256 --max_steps 80 --save_every 80 --floor $R/mt_lora/step_000080 --out_dir $R/$name "$@" > $R/$name.log 2>&1; }
ev() { python eval.py --max_per_task $K "$@"; }
lane1() {
  hn HF$X --task_lr_mult 10 --def_dropout $P
  ev --ckpt $R/HF$X --systems hypernet,hypernet_shuffled
  ev --ckpt $R/HF$X --systems hypernet,hypernet_shuffled --adapter_only
}
lane2() {
  hn SF$X --task_lr_mult 1e-9 --def_dropout $P
  ev --ckpt $R/SF$X --systems hypernet
  ev --ckpt $R/SF$X --systems hypernet --adapter_only
  [ $X != D ] || ev --ckpt $R/mt_lora --systems mt_lora --adapter_only
}
lane1 > $R/lane1$X.log 2>&1 &
lane2 > $R/lane2$X.log 2>&1 &
wait
