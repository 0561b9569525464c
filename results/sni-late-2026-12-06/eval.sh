#!/bin/bash
# results/sni-late-2026-12-06, evaluation of one run of run.sh (its last checkpoint, step 105)
# against the baselines decoded for V116 (../sni-v116-2026-11-30: the base model, mt_lora230, the
# per-task LoRA), which scripts/tables.py --take reads from the committed predictions; decoding, one
# system per call, each on its own single-threaded lane, goes through ../sni-p116-2026-12-02/eval.sh.
#   results/sni-late-2026-12-06/eval.sh L125 prompt hypernet &          # the definition in the prompt, 10 per task
#   results/sni-late-2026-12-06/eval.sh L125 prompt hypernet_shuffled &
#   results/sni-late-2026-12-06/eval.sh L125 prompt table               # the table and the comparisons
# adapter_only in place of prompt: the definition removed from every prompt, 20 per task.
# The floor alone (the residual at zero: mt_lora230's step-125 checkpoint), the definition in the prompt:
#   OMP_NUM_THREADS=1 python eval.py --ckpt runs/mt_lora --step 125 --max_per_task 10 --systems mt_lora
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1
run=$1 mode=$2 what=$3
case $mode in
  prompt) folder=sni-105 ;;
  adapter_only) folder=sni-105-adapter_only ;;
  *) echo "usage: $0 RUN prompt|adapter_only hypernet|hypernet_shuffled|table"; exit 2 ;;
esac
# decoding is P116's step (the same settings, one single-threaded lane, its log in runs/p116/)
[ "$what" != table ] && exec results/sni-p116-2026-12-02/eval.sh $run $mode $what
E=runs/visits/$run/eval/$folder
python scripts/tables.py $E --take results/sni-v116-2026-11-30/$mode
# NAME=predictions: mt_lora230, V116 (the same recipe over the step-50 floor, 180 steps) and this run
systems="mt_lora230=results/sni-v116-2026-11-30/$mode/predictions-mt_lora.jsonl
  V116=results/sni-v116-2026-11-30/$mode/predictions-hypernet.jsonl
  $(for f in $E/predictions-hypernet*.jsonl; do s=$(basename $f .jsonl); echo $run${s#predictions-hypernet}=$f; done)"
# against V116 and, with the definition in the prompt, against the floor alone (its predictions are
# committed in floor125-prompt/; it joins the splits below too): paired differences, same instances
floor=floor125=results/sni-late-2026-12-06/floor125-prompt/predictions-mt_lora.jsonl
others="V116=results/sni-v116-2026-11-30/$mode/predictions-hypernet.jsonl"
[ $mode = prompt ] && others="$others $floor" && systems="$systems $floor"
python -c "import json, sys, eval as ev; rd = lambda p: [json.loads(l) for l in open(p)]
for other in sys.argv[1:]:
    name, path = other.split('=', 1)
    for s in ('hypernet', 'hypernet_shuffled'):
        p = ev.paired(rd(f'$E/predictions-{s}.jsonl'), rd(path))
        print(f'$run ({s}) - {name}', {k: (p[k]['rougeL']['diff'], p[k]['rougeL']['ci']) for k in p})" $others
# one-word-answer tasks against the rest; the 45 seen / 6 unseen MMLU tasks against the rest
python results/sni-i116-2026-12-01/by_answer.py $systems
python results/sni-p116-2026-12-02/by_mmlu.py $systems
