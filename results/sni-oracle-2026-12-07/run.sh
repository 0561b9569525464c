#!/bin/bash
# results/sni-oracle-2026-12-07: per-task LoRAs started from the multi-task LoRA (train.py --mode lora
# --init_from), make results' per-task settings (20 steps of 4 instances, lr 1e-3), the definition in the
# prompt. Two single-threaded lanes (2-core VM):
#   lane 1: the floor (mt_lora, 150-step schedule) to step 125, then mt_lora230 (resumed, schedule to 230),
#           then oracle230 on half A of the 31 seen tasks past the label prior that are not among make
#           results' 12 per-task LoRA tasks (compare.py --past_prior, sorted by name, even places), stopped
#           at DEADLINE;
#   lane 2: oracle125 on the 12 tasks (from the floor's step 125), then oracle230 on half B (odd places);
#   then each lane: oracle230 on its half of the other non-MMLU seen tasks (compare.py --rest: make results'
#           12 first, then the one-word tasks with <= 10 labels), until DEADLINE.
# The run of 2026-12-07 (AMD EPYC 2-core VM) had DEADLINE 04:30 UTC; the lanes were started as separate
# processes at the same points (runs/oracle/*.log), with the same commands.
# Every step resumes or skips what is done, so an interrupted lane can be started again alone.
# Each set is decoded at 10 instances a task against its floor's run (eval.py --systems lora); tasks not
# finished by DEADLINE have no checkpoint and eval.py skips them (it says so). compare.py makes the tables.
# RUNS must hold mt_lora with step_000050 of the 150-step run (results/sni-floor-2026-11-30), or train it.
cd $(git rev-parse --show-toplevel)
RUNS=${RUNS:-runs}
DEADLINE=${DEADLINE:-$(date -d "+140 min" +%s)}
export OMP_NUM_THREADS=1
ST="python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni"
PT="--mode lora --max_steps 20 --eval_every 0 --save_every 20 --resume --log_every 5 --keep_last 100"
L12=$(python -c "import sys; sys.path.insert(0, 'scripts'); from results import lora_task_names; print(','.join(lora_task_names('../shared/data/sni', 12)))")
H=$(python results/sni-oracle-2026-12-07/compare.py --past_prior | tr , '\n' | sort)
HA=$(echo "$H" | sed -n 'p;n' | paste -sd,) HB=$(echo "$H" | sed -n 'n;p' | paste -sd,)
C=$(python results/sni-oracle-2026-12-07/compare.py --rest | tr , '\n')
CA=$(echo "$C" | sed -n 'p;n' | paste -sd,) CB=$(echo "$C" | sed -n 'n;p' | paste -sd,)
until_deadline() { timeout $(( DEADLINE - $(date +%s) )) "$@"; }
evaluate() {  # evaluate RUN_COPY FLOOR_RUN STEP LORA_RUN: a copy of the floor's run keeps each set's eval folder apart
  [ -d $1 ] || { cp -a $2 $1 && rm -rf $1/eval; }
  python eval.py --ckpt $1 --step $3 --max_per_task 10 --systems lora --lora_ckpt $4
}
lane1() {
  if [ ! -d $RUNS/mt_lora230 ]; then
    $ST --mode mt_lora --out_dir $RUNS/mt_lora --max_steps 150 --save_every 25 --keep_last 10 --eval_every 25 --log_every 5 --resume &
    pid=$!
    while [ ! -f $RUNS/mt_lora/step_000125/state.json ]; do sleep 5; done
    sleep 5; kill $pid; wait $pid
    cp -a $RUNS/mt_lora $RUNS/mt_lora230 && rm -rf $RUNS/mt_lora230/eval
  fi
  $ST --mode mt_lora --out_dir $RUNS/mt_lora230 --resume --max_steps 230 --eval_every 230 --save_every 35 --keep_last 10 --log_every 5
  until_deadline $ST $PT --out_dir $RUNS/oracle/HA_230 --tasks $HA --init_from $RUNS/mt_lora230
  evaluate $RUNS/oracle/floor230-HA $RUNS/mt_lora230 230 $RUNS/oracle/HA_230
  until_deadline $ST $PT --out_dir $RUNS/oracle/CA_230 --tasks $CA --init_from $RUNS/mt_lora230
  evaluate $RUNS/oracle/floor230-CA $RUNS/mt_lora230 230 $RUNS/oracle/CA_230
}
lane2() {
  while [ ! -d $RUNS/mt_lora230 ]; do sleep 10; done
  $ST $PT --out_dir $RUNS/oracle/L12_125 --tasks $L12 --init_from $RUNS/mt_lora/step_000125
  evaluate $RUNS/oracle/floor125-L12 $RUNS/mt_lora 125 $RUNS/oracle/L12_125
  while [ ! -f $RUNS/mt_lora230/step_000230/state.json ]; do sleep 10; done
  until_deadline $ST $PT --out_dir $RUNS/oracle/HB_230 --tasks $HB --init_from $RUNS/mt_lora230
  evaluate $RUNS/oracle/floor230-HB $RUNS/mt_lora230 230 $RUNS/oracle/HB_230
  until_deadline $ST $PT --out_dir $RUNS/oracle/CB_230 --tasks $CB --init_from $RUNS/mt_lora230
  evaluate $RUNS/oracle/floor230-CB $RUNS/mt_lora230 230 $RUNS/oracle/CB_230
}
mkdir -p $RUNS/oracle
case ${1:-all} in  # one lane alone (run.sh lane1 | lane2): every step resumes or skips what is done
  lane1|lane2) $1 ;;
  all) lane1 > $RUNS/oracle/lane1.log 2>&1 &
       lane2 > $RUNS/oracle/lane2.log 2>&1 &
       wait
       mkdir -p results/sni-oracle-2026-12-07/oracle125 results/sni-oracle-2026-12-07/oracle230
       cp $RUNS/oracle/floor125-L12/eval/sni-125/predictions-lora.jsonl results/sni-oracle-2026-12-07/oracle125/
       cat $RUNS/oracle/floor230-{HA,HB,CA,CB}/eval/sni-230/predictions-lora.jsonl > results/sni-oracle-2026-12-07/oracle230/predictions-lora.jsonl
       python results/sni-oracle-2026-12-07/compare.py ;;
esac
