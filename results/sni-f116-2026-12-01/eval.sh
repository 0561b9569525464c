#!/bin/bash
# results/sni-f116-2026-12-01, evaluation of F116 (run.sh) against the baselines already decoded for
# V116 (results/sni-v116-2026-11-30: the base model, mt_lora230, the per-task LoRA), which
# scripts/tables.py --take reads from the committed predictions. Two single-threaded lanes.
#   results/sni-f116-2026-12-01/eval.sh prompt        # the definition in the prompt, 10 per task
#   results/sni-f116-2026-12-01/eval.sh adapter_only  # the definition removed from every prompt, 20 per task
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1
R=results/sni-f116-2026-12-01
case $1 in
  prompt) flags="--max_per_task 10"; folder=sni-180 ;;
  adapter_only) flags="--max_per_task 20 --adapter_only"; folder=sni-180-adapter_only ;;
  *) echo "usage: $0 prompt|adapter_only"; exit 2 ;;
esac
mkdir -p runs/f116
python eval.py --ckpt runs/visits/F116 $flags --systems hypernet > runs/f116/$1_hypernet.log 2>&1 &
python eval.py --ckpt runs/visits/F116 $flags --systems hypernet_shuffled > runs/f116/$1_shuffled.log 2>&1 &
wait
python scripts/tables.py runs/visits/F116/eval/$folder --take results/sni-v116-2026-11-30/$1
# F116 against V116 and D116 on the same instances: a paired bootstrap with eval.py's own function
for other in sni-v116-2026-11-30/$1 sni-d116-2026-12-01/D116-$1; do
  python -c "import json, eval as ev; rd = lambda p: [json.loads(l) for l in open(p)]
p = ev.paired(rd('runs/visits/F116/eval/$folder/predictions-hypernet.jsonl'), rd('results/$other/predictions-hypernet.jsonl'))
print('F116 - $other', {s: (p[s]['rougeL']['diff'], p[s]['rougeL']['ci']) for s in p})"
done
