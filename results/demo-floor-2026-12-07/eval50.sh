#!/bin/bash
# results/demo-floor-2026-12-07: every system of run.sh and `more.sh D 1 10` again at 50 instances a task (800 seen,
# 300 unseen; the built-in tasks hold 100 held-out instances each), for intervals about half as wide;
# two single-threaded lanes.
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1 PATH=$PWD/.venv/bin:$PATH
R=runs/df
ev() { python eval.py --max_per_task 50 "$@"; }
lane1() {
  ev --ckpt $R/mt_lora --systems base,mt_lora
  ev --ckpt $R/HF --systems hypernet,hypernet_shuffled
  ev --ckpt $R/HF10 --systems hypernet,hypernet_shuffled
  ev --ckpt $R/HFD --systems hypernet,hypernet_shuffled --adapter_only
}
lane2() {
  ev --ckpt $R/MT --systems mt_lora
  ev --ckpt $R/SF --systems hypernet
  ev --ckpt $R/HFD --systems hypernet,hypernet_shuffled
  ev --ckpt $R/SFD --systems hypernet
  ev --ckpt $R/SFD --systems hypernet --adapter_only
  ev --ckpt $R/mt_lora --systems mt_lora --adapter_only
}
lane1 > $R/lane1c.log 2>&1 &
lane2 > $R/lane2c.log 2>&1 &
wait
