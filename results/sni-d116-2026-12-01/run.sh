#!/bin/bash
# results/sni-d116-2026-12-01. Two single-threaded lanes, the definition in the prompt, 10 instances per task:
#  - the rows V116's table (results/sni-v116-2026-11-30/prompt) lacked: the base model (Tk prompt,
#    chat format, 2-shot) and a per-task LoRA on 12 seen tasks (make results' choice: the first 12
#    that are not MMLU subjects, 20 steps of 4 examples each);
#  - D116: V116's recipe with the definition in half of the training prompts (--def_dropout 0.5
#    instead of 1), compared with the baselines already decoded for V116 (tables.py --take).
# RUNS as in results/sni-v116-2026-11-30/run.sh (visits/V116 and mt_lora230 there).
cd $(git rev-parse --show-toplevel)
RUNS=${RUNS:-runs}
export OMP_NUM_THREADS=1
LORA_TASKS=$(python -c "import sys; sys.path.insert(0, 'scripts'); from results import lora_task_names; \
print(','.join(lora_task_names('../shared/data/sni', 12)))")
lane1() {
  # a later --def_dropout wins over the 1 that run.sh passes
  results/sni-visits-2026-11-30/run.sh D116 --max_steps 180 --eval_every 60 --val_per_task 2 --def_dropout 0.5
  python eval.py --ckpt $RUNS/visits/D116 --max_per_task 10 --systems hypernet
}
lane2() {
  python eval.py --ckpt $RUNS/visits/V116 --max_per_task 10 --systems base,base_chat,fewshot
  python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni --mode lora --out_dir $RUNS/lora12 \
    --tasks $LORA_TASKS --max_steps 20 --eval_every 0 --save_every 20 --resume --log_every 5 --keep_last 100
  python eval.py --ckpt $RUNS/visits/V116 --max_per_task 10 --systems lora --lora_ckpt $RUNS/lora12
  python eval.py --ckpt $RUNS/visits/V116 --max_per_task 20 --adapter_only --systems lora --lora_ckpt $RUNS/lora12
  while [ ! -f $RUNS/visits/D116/step_000180/state.json ]; do sleep 30; done
  python eval.py --ckpt $RUNS/visits/D116 --max_per_task 10 --systems hypernet_shuffled
}
mkdir -p runs/d116
lane1 > runs/d116/lane1.log 2>&1 &
lane2 > runs/d116/lane2.log 2>&1 &
wait
# V116's table again with its new rows (everything reused), then D116's with V116's baselines
python eval.py --ckpt $RUNS/visits/V116 --max_per_task 10 --systems base,fewshot,base_chat,hypernet,hypernet_shuffled,mt_lora,lora \
  --mt_lora_ckpt $RUNS/mt_lora230 --lora_ckpt $RUNS/lora12
python eval.py --ckpt $RUNS/visits/V116 --max_per_task 20 --adapter_only --systems hypernet,hypernet_shuffled,mt_lora,lora \
  --mt_lora_ckpt $RUNS/mt_lora230 --lora_ckpt $RUNS/lora12
python scripts/tables.py $RUNS/visits/D116/eval/sni-180 --take $RUNS/visits/V116/eval/sni-180
# D116 adapter only (the definition removed from every prompt), 20 per task, against V116's adapter-only
# baselines (mt_lora230 and the per-task LoRA decoded there)
python eval.py --ckpt $RUNS/visits/D116 --max_per_task 20 --adapter_only --systems hypernet > runs/d116/lane1_ao.log 2>&1 &
python eval.py --ckpt $RUNS/visits/D116 --max_per_task 20 --adapter_only --systems hypernet_shuffled > runs/d116/lane2_ao.log 2>&1 &
wait
python scripts/tables.py $RUNS/visits/D116/eval/sni-180-adapter_only --take $RUNS/visits/V116/eval/sni-180-adapter_only
# the README's D116 - V116 column: a paired bootstrap over the same instances, with eval.py's own function
for mode in sni-180 sni-180-adapter_only; do
  python -c "import json, sys, eval as ev; rd = lambda p: [json.loads(l) for l in open(p)]
p = ev.paired(*(rd(f'$RUNS/visits/{r}/eval/$mode/predictions-hypernet.jsonl') for r in ('D116', 'V116')))
print('$mode', {s: (p[s]['rougeL']['diff'], p[s]['rougeL']['ci']) for s in p})"
done
