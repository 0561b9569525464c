#!/bin/bash
# results/sni-batch-2026-12-02, evaluation of B116 (run.sh) against the baselines decoded for V116
# (results/sni-v116-2026-11-30: the base model, mt_lora230, the per-task LoRA), which
# scripts/tables.py --take reads from the committed predictions. Two single-threaded lanes.
#   results/sni-batch-2026-12-02/eval.sh prompt        # the definition in the prompt, 10 per task
#   results/sni-batch-2026-12-02/eval.sh adapter_only  # the definition removed from every prompt, 20 per task
cd $(git rev-parse --show-toplevel)
export OMP_NUM_THREADS=1
case $1 in
  prompt) flags="--max_per_task 10"; folder=sni-180 ;;
  adapter_only) flags="--max_per_task 20 --adapter_only"; folder=sni-180-adapter_only ;;
  *) echo "usage: $0 prompt|adapter_only"; exit 2 ;;
esac
mkdir -p runs/batch
python eval.py --ckpt runs/visits/B116 $flags --systems hypernet > runs/batch/$1_hypernet.log 2>&1 &
python eval.py --ckpt runs/visits/B116 $flags --systems hypernet_shuffled > runs/batch/$1_shuffled.log 2>&1 &
wait
python scripts/tables.py runs/visits/B116/eval/$folder --take results/sni-v116-2026-11-30/$1
# B116 against F116 (the same run with 8 x 2 batches) on the same instances: eval.py's paired bootstrap
python -c "import json, eval as ev; rd = lambda p: [json.loads(l) for l in open(p)]
p = ev.paired(rd('runs/visits/B116/eval/$folder/predictions-hypernet.jsonl'), rd('results/sni-f116-2026-12-01/F116-$1/predictions-hypernet.jsonl'))
print('B116 - F116', {s: (p[s]['rougeL']['diff'], p[s]['rougeL']['ci']) for s in p})"
# one-word-answer tasks against the rest
python results/sni-i116-2026-12-01/by_answer.py mt_lora230=results/sni-v116-2026-11-30/$1/predictions-mt_lora.jsonl \
  F116=results/sni-f116-2026-12-01/F116-$1/predictions-hypernet.jsonl \
  B116=runs/visits/B116/eval/$folder/predictions-hypernet.jsonl \
  B116_shuffled=runs/visits/B116/eval/$folder/predictions-hypernet_shuffled.jsonl
