#!/bin/bash
# results/sni-vf116-2026-12-02, evaluation of VF116 (trained by ../sni-p116-2026-12-02/run.sh VF116
# --def_dropout 1) against the baselines decoded for V116 (../sni-v116-2026-11-30: the base model,
# mt_lora230, the per-task LoRA), which scripts/tables.py --take reads from the committed predictions;
# one eval.py call per system, each on its own single-threaded lane, then the tables.
#   for s in hypernet hypernet_shuffled; do results/sni-vf116-2026-12-02/eval.sh adapter_only $s & done; wait
#   results/sni-vf116-2026-12-02/eval.sh adapter_only table
# prompt in place of adapter_only: the definition in the prompt, 10 per task (adapter only: 20 per task).
cd $(git rev-parse --show-toplevel)
run=${RUN:-VF116} mode=$1 what=$2
case $mode in
  prompt) folder=sni-180 ;;
  adapter_only) folder=sni-180-adapter_only ;;
  *) echo "usage: $0 prompt|adapter_only hypernet|hypernet_shuffled|table"; exit 2 ;;
esac
# decoding is P116's step (its eval.sh: the same settings, one single-threaded lane, log in runs/p116/)
[ "$what" != table ] && exec results/sni-p116-2026-12-02/eval.sh $run $mode $what
E=runs/visits/$run/eval/$folder f=F116-$mode
python scripts/tables.py $E --take results/sni-v116-2026-11-30/$mode
# the two runs it differs from by one flag, on the same instances (eval.py's paired bootstrap):
# V116 (the floor frozen) and F116 (--def_dropout 0.5)
for other in V116=results/sni-v116-2026-11-30/$mode F116=results/sni-f116-2026-12-01/$f; do
  python -c "import json, eval as ev; rd = lambda p: [json.loads(l) for l in open(p)]
p = ev.paired(rd('$E/predictions-hypernet.jsonl'), rd('${other#*=}/predictions-hypernet.jsonl'))
print('$run - ${other%%=*}', {s: (p[s]['rougeL']['diff'], p[s]['rougeL']['ci']) for s in p})"
done
systems="mt_lora230=results/sni-v116-2026-11-30/$mode/predictions-mt_lora.jsonl
  V116=results/sni-v116-2026-11-30/$mode/predictions-hypernet.jsonl
  V116_shuffled=results/sni-v116-2026-11-30/$mode/predictions-hypernet_shuffled.jsonl
  F116=results/sni-f116-2026-12-01/$f/predictions-hypernet.jsonl
  $run=$E/predictions-hypernet.jsonl ${run}_shuffled=$E/predictions-hypernet_shuffled.jsonl"
# one-word-answer tasks against the rest; the 45 seen / 6 unseen MMLU tasks against the rest
python results/sni-i116-2026-12-01/by_answer.py $systems
python results/sni-p116-2026-12-02/by_mmlu.py $systems
