#!/bin/bash
# results/sni-late3-2026-12-06, training: L125W and LD125 (../sni-late-2026-12-06/run.sh: V116's recipe
# over mt_lora230's step-125 floor, 105 steps) with the task path at 3 x lr instead of 10 x, the
# change that made V116's recipe read the instruction on every seed (../sni-escape-2026-12-06).
#   results/sni-late3-2026-12-06/run.sh L3W --tasks_per_step 16 --examples_per_task 1 &  # L125W + 3 x
#   results/sni-late3-2026-12-06/run.sh LD3 --def_dropout 0.5                           # LD125 + 3 x
# Each on one thread, side by side; log in runs/visits/<name>.log. Evaluate with ../sni-late-2026-12-06/eval.sh.
cd $(git rev-parse --show-toplevel)
name=$1; shift
exec results/sni-late-2026-12-06/run.sh $name --task_lr_mult 3 "$@"
