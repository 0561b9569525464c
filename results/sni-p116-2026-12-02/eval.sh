#!/bin/bash
# results/sni-p116-2026-12-02, evaluation of one run of run.sh against the baselines decoded for V116
# (results/sni-v116-2026-11-30: the base model, mt_lora230, the per-task LoRA), which
# scripts/tables.py --take reads from the committed predictions; one eval.py call per system, each
# on its own single-threaded lane, the table and comparisons once they are all there.
#   results/sni-p116-2026-12-02/eval.sh P116 prompt hypernet &      # the definition in the prompt, 10 per task
#   results/sni-p116-2026-12-02/eval.sh P116 prompt hypernet_shuffled &
#   results/sni-p116-2026-12-02/eval.sh M116 prompt hypernet        # M116's task path is frozen at zero, so its
#                                                                   # shuffled control would be the same run
#   results/sni-p116-2026-12-02/eval.sh P116 prompt table           # the table and comparisons
# adapter_only in place of prompt: the definition removed from every prompt, 20 per task.
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1
run=$1 mode=$2 what=$3
case $mode in
  prompt) flags="--max_per_task 10"; folder=sni-180 ;;
  adapter_only) flags="--max_per_task 20 --adapter_only"; folder=sni-180-adapter_only ;;
  *) echo "usage: $0 RUN prompt|adapter_only hypernet|hypernet_shuffled|table"; exit 2 ;;
esac
E=runs/visits/$run/eval/$folder
if [ "$what" != table ]; then
  mkdir -p runs/p116
  exec python eval.py --ckpt runs/visits/$run $flags --systems $what > runs/p116/${run}_${mode}_$what.log 2>&1
fi
python scripts/tables.py $E --take results/sni-v116-2026-11-30/$mode
# against F116 (the same command with --def_dropout 0.5 and the task path at 10 x lr) on the same
# instances: eval.py's paired bootstrap
python -c "import json, eval as ev; rd = lambda p: [json.loads(l) for l in open(p)]
p = ev.paired(rd('$E/predictions-hypernet.jsonl'), rd('results/sni-f116-2026-12-01/F116-$mode/predictions-hypernet.jsonl'))
print('$run - F116', {s: (p[s]['rougeL']['diff'], p[s]['rougeL']['ci']) for s in p})"
# NAME=predictions for this run's systems: P116=..., P116_shuffled=...
mine=$(for f in $E/predictions-hypernet*.jsonl; do s=$(basename $f .jsonl); echo $run${s#predictions-hypernet}=$f; done)
# one-word-answer tasks against the rest
python results/sni-i116-2026-12-01/by_answer.py mt_lora230=results/sni-v116-2026-11-30/$mode/predictions-mt_lora.jsonl \
  F116=results/sni-f116-2026-12-01/F116-$mode/predictions-hypernet.jsonl \
  $mine
# the 45 seen / 6 unseen MMLU tasks against the rest, and the letters each system answers there
python results/sni-p116-2026-12-02/by_mmlu.py mt_lora230=results/sni-v116-2026-11-30/$mode/predictions-mt_lora.jsonl \
  F116=results/sni-f116-2026-12-01/F116-$mode/predictions-hypernet.jsonl \
  $mine
