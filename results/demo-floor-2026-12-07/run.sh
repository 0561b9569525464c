#!/bin/bash
# results/demo-floor-2026-12-07: on the built-in tasks, where the hypernetwork does read the instruction
# (`make demo`: +6.4 * over its shuffled control, but -11.3 * against one multi-task LoRA), does a task
# residual written over a converged multi-task LoRA beat a shared residual over the same LoRA?
#   1. the floor: `make demo`'s mt_lora (80 steps; runs/df/mt_lora), its validation loss 0.4394 at step 79
#   2. over it, frozen, each for the same steps and schedule (the demo's flags, --d_h 256):
#        HF    the hypernetwork's residual (definition in the prompt, train.py's defaults)
#        HF10  the same with the task path at 10 x lr (--task_lr_mult 10, as in every SNI recipe)
#        SF    the same architecture with the task path frozen at zero (--task_lr_mult 1e-9): one shared
#              residual, the control for conditioning
#        MT    the floor itself trained on (--resume, the schedule stretched to 80 + STEPS)
#   3. eval.py on the 16 seen tasks' held-out instances and the 6 unseen tasks, 10 each
# Two single-threaded lanes; logs in runs/df/.
#   results/demo-floor-2026-12-07/run.sh [STEPS]        # 80 by default
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1 PATH=$PWD/.venv/bin:$PATH
N=${1:-80}
R=runs/df
D="--ckpt_dir checkpoints/smollm2-135m --eval_every 20 --log_every 10 --resume"
mkdir -p $R
set -e
[ -d $R/mt_lora/step_000080 ] || python train.py $D --max_steps 80 --save_every 80 --mode mt_lora --out_dir $R/mt_lora > $R/mt_lora.log 2>&1
hn() { name=$1; shift; python train.py $D --d_h 256 --max_steps $N --save_every $N --floor $R/mt_lora/step_000080 --out_dir $R/$name "$@" > $R/$name.log 2>&1; }
ev() { python eval.py --max_per_task 10 "$@"; }
lane1() {
  hn HF
  ev --ckpt $R/HF --systems hypernet,hypernet_shuffled
  hn HF10 --task_lr_mult 10
  ev --ckpt $R/HF10 --systems hypernet,hypernet_shuffled
}
lane2() {
  hn SF --task_lr_mult 1e-9
  ev --ckpt $R/SF --systems hypernet
  ev --ckpt $R/mt_lora --systems base,mt_lora
  [ -d $R/MT/step_$(printf %06d $((80 + N))) ] || { rm -rf $R/MT && cp -a $R/mt_lora $R/MT && rm -rf $R/MT/eval
    python train.py $D --max_steps $((80 + N)) --save_every $((80 + N)) --mode mt_lora --out_dir $R/MT > $R/MT.log 2>&1; }
  ev --ckpt $R/MT --systems mt_lora
}
lane1 > $R/lane1.log 2>&1 &
lane2 > $R/lane2.log 2>&1 &
wait
