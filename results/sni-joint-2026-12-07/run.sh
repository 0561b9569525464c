#!/bin/bash
# results/sni-joint-2026-12-07: is the per-task oracle's gain (../sni-oracle-2026-12-07: +9.6 * on the 31
# seen tasks past the label prior) task-specific weights, or only the 80 extra instances each task saw?
# Every arm starts from mt_lora230 and sees the oracles' data budget (31 tasks x 80 instances: 155 steps of
# 4 tasks x 4 examples, lr 1e-3, the definition in the prompt), on one thread each:
#   joint31: one LoRA for the 31 tasks (--mode mt_lora --init_from mt_lora230), the shared-LoRA control;
#   hyper31: the hypernetwork over mt_lora230 as a trainable floor (--floor --floor_trainable): the same
#            shared LoRA plus a generated task residual; P116's recipe (--task_lr_mult 10, --def_dropout 0)
#            with B116's batch (4 x 4), as in ../sni-vf116-2026-12-02;
#   joint31s1, hyper31s1: joint31 and hyper31 with --seed 1 (another data order and initialisation).
# Which part of hyper31 fails (second session)? Each changes one thing:
#   hyper31id: a learned code per task in place of its encoded definition (--task_code id; same decoder init);
#   bank31: no decoder, each task's lightweight adapter learned directly (--task_code table), a bank of per-task
#           lightweight LoRAs trained jointly; at lr x 3 each step moves the adapter's dW about as far as the
#           oracles' lr moves a plain LoRA's (lr x 10, hyper31's, diverged: README);
#   hyper31m3: hyper31 at --task_lr_mult 3, the task-path lr at which the decoder's gradient stays live.
#   bank31p: bank31 with plain rank-8 LoRAs (--kind plain) at the oracles' lr (x 1): the oracles' shape and lr,
#            trained jointly (begun on two threads at the end of that session, to be resumed).
# Then each is decoded on its 31 seen tasks and the 32 unseen ones at 10 instances a task (the oracle's
# instances); compare.py makes the table. RUNS must hold mt_lora230 (../sni-oracle-2026-12-07/run.sh
# lane1 trains it). Every step resumes or skips what is done.
cd $(git rev-parse --show-toplevel)
RUNS=${RUNS:-runs}
export OMP_NUM_THREADS=1
T31=$(python results/sni-oracle-2026-12-07/compare.py --past_prior)
ST0="python train.py --ckpt_dir checkpoints/smollm2-135m --data_dir ../shared/data/sni
    --max_steps 155 --tasks_per_step 4 --examples_per_task 4 --lr 1e-3 --eval_every 155 --val_per_task 4
    --save_every 31 --keep_last 2 --log_every 5 --resume"
ST="$ST0 --tasks $T31"
joint31() {
  $ST --mode mt_lora --init_from $RUNS/mt_lora230 --out_dir $RUNS/joint31
  python eval.py --ckpt $RUNS/joint31 --max_per_task 10 --systems mt_lora
}
joint() {  # joint NAME [extra flags]
  $ST --mode mt_lora --init_from $RUNS/mt_lora230 --out_dir $RUNS/$1 "${@:2}"
  python eval.py --ckpt $RUNS/$1 --max_per_task 10 --systems mt_lora
}
joint31s1() { joint joint31s1 --seed 1; }  # the same, another seed (data order and initialisation)
hyper() {  # hyper NAME [extra flags]
  $ST --mode hypernet --floor $RUNS/mt_lora230 --floor_trainable --task_lr_mult 10 --def_dropout 0 --out_dir $RUNS/$1 "${@:2}"
  python eval.py --ckpt $RUNS/$1 --max_per_task 10 --systems hypernet,hypernet_shuffled
}
hyper31() { hyper hyper31; }
hyper31s1() { hyper hyper31s1 --seed 1; }        # the same, another seed (data order and initialisation)
# 2026-12-07, second session: which part fails, the code or the decoder? (hypernet.py --task_code)
hyper31id() { hyper hyper31id --task_code id; }  # a learned code per task instead of its encoded definition
bank31() { hyper bank31 --task_code table --task_lr_mult 3; }  # each task's lightweight adapter itself, no decoder
hyper31m3() { hyper hyper31m3 --task_lr_mult 3; }  # hyper31 at the task-path lr that escapes the trap (docs/DESIGN.md)
bank31p() { hyper bank31p --task_code table --kind plain --task_lr_mult 1; }  # plain per-task LoRAs at the oracles' lr
# 2026-12-07, third session: can the decoder write what the bank learned? (scripts/distil.py)
bank31s() { hyper bank31s --task_code table --table_init same --task_lr_mult 3; }  # bank31, every A from one draw
hyper31d() { hyper hyper31d --direct_rank 32 --task_lr_mult 1; }  # hyper31 plus a direct path code -> adapter
hyper31ds1() { hyper hyper31ds1 --direct_rank 32 --task_lr_mult 1 --seed 1; }  # the same, seed 1 (joint31s1's draws)
# 2026-12-08: a third seed, and the direct path at the bank's task-path lr
joint31s2() { joint joint31s2 --seed 2; }
hyper31ds2() { hyper hyper31ds2 --direct_rank 32 --task_lr_mult 1 --seed 2; }
hyper31d3() { hyper hyper31d3 --direct_rank 32 --task_lr_mult 3; }  # hyper31d at bank31's lr x 3
hyper31k0() { hyper hyper31k0 --direct_rank 32 --task_lr_mult 1 --iterations 0; }  # hyper31d without the decoder
hyper31k0h() { hyper hyper31k0h --direct_rank 32 --task_lr_mult 0.5 --iterations 0; }  # hyper31k0 at half the step
# 2026-12-07, fifth session: does a new task gain from its definition when the map is fitted on all 116 tasks?
# The same budget (155 steps of 4 tasks x 4 examples), spread over the 116 training tasks (about 21 instances
# each instead of 80); decoded on the same 31 seen tasks (eval.py --tasks) and the 32 unseen ones.
hyper116k0() {
  $ST0 --mode hypernet --floor $RUNS/mt_lora230 --floor_trainable --def_dropout 0 --out_dir $RUNS/hyper116k0 \
    --direct_rank 32 --task_lr_mult 1 --iterations 0
  python eval.py --ckpt $RUNS/hyper116k0 --max_per_task 10 --tasks $T31 --systems hypernet,hypernet_shuffled,hypernet_mean
}
joint116() {  # its shared-LoRA control at the same budget
  $ST0 --mode mt_lora --init_from $RUNS/mt_lora230 --out_dir $RUNS/joint116
  python eval.py --ckpt $RUNS/joint116 --max_per_task 10 --tasks $T31 --systems mt_lora
}
# 2026-12-07, sixth session: definition dropout (train.py --def_dropout 0.5): half the training prompts lack the
# definition, so the adapter has to carry the task there; hyper31k0 and joint31 otherwise, each decoded with the
# definition in the prompt and without it (eval.py --adapter_only).
hyperdd() {  # hyperdd NAME [extra flags]: hyper31k0 with --def_dropout 0.5, decoded both ways with the mean control
  hyper $1 --direct_rank 32 --task_lr_mult 1 --iterations 0 --def_dropout 0.5 "${@:2}"
  mean $1
  only $1 hypernet,hypernet_shuffled,hypernet_mean
}
jointdd() { joint $1 --def_dropout 0.5 "${@:2}"; only $1 mt_lora; }  # jointdd NAME [extra flags]: its shared LoRA
hyper31k0dd() { hyperdd hyper31k0dd; }
joint31dd() { jointdd joint31dd; }
hyper31k0dds1() { hyperdd hyper31k0dds1 --seed 1; }  # the same two at seed 1 (joint31s1's and hyper31ds1's draws)
joint31dds1() { jointdd joint31dds1 --seed 1; }
hyper31k0dds2() { hyperdd hyper31k0dds2 --seed 2; }  # and at seed 2 (joint31s2's and hyper31ds2's draws; 2026-12-08)
joint31dds2() { jointdd joint31dds2 --seed 2; }
hyper31k0dq() {  # a quarter of the prompts without the definition: does less dropout spare the shared part? (run on 2 threads)
  hyper hyper31k0dq --direct_rank 32 --task_lr_mult 1 --iterations 0 --def_dropout 0.25
}
# 2026-12-07, seventh session: definition dropout over all 116 training tasks at the same budget (hyper116k0 and
# joint116 with --def_dropout 0.5): do more tasks teach the map to write adapters for new ones? Decoded with the
# definition on all 116 seen tasks and the 32 unseen (the table; compare.py takes the 31 from it), and
# adapter only on the 31 and the 32 (eval.py --tasks; the hypernetwork without its shuffled control there, for
# time); joint116all: joint116 decoded on all 116 too.
hyper116k0dd() {
  $ST0 --mode hypernet --floor $RUNS/mt_lora230 --floor_trainable --def_dropout 0.5 --out_dir $RUNS/hyper116k0dd \
    --direct_rank 32 --task_lr_mult 1 --iterations 0
  python eval.py --ckpt $RUNS/hyper116k0dd --max_per_task 10 --systems hypernet,hypernet_shuffled,hypernet_mean
  python eval.py --ckpt $RUNS/hyper116k0dd --max_per_task 10 --tasks $T31 --adapter_only --systems hypernet,hypernet_mean
}
joint116dd() {
  $ST0 --mode mt_lora --init_from $RUNS/mt_lora230 --out_dir $RUNS/joint116dd --def_dropout 0.5
  python eval.py --ckpt $RUNS/joint116dd --max_per_task 10 --systems mt_lora
  python eval.py --ckpt $RUNS/joint116dd --max_per_task 10 --tasks $T31 --adapter_only --systems mt_lora
}
joint116all() { python eval.py --ckpt $RUNS/joint116 --max_per_task 10 --systems mt_lora; }
# and trained adapter only (--def_dropout 1: the definition never in the prompt), decoded both ways too
hyper31k0a1() {
  $ST --mode hypernet --floor $RUNS/mt_lora230 --floor_trainable --task_lr_mult 1 --def_dropout 1 --out_dir $RUNS/hyper31k0a1 \
    --direct_rank 32 --iterations 0
  only hyper31k0a1 hypernet,hypernet_shuffled,hypernet_mean
  python eval.py --ckpt $RUNS/hyper31k0a1 --max_per_task 10 --systems hypernet,hypernet_shuffled
}
joint31a1() {
  $ST --mode mt_lora --init_from $RUNS/mt_lora230 --out_dir $RUNS/joint31a1 --def_dropout 1
  only joint31a1 mt_lora
  python eval.py --ckpt $RUNS/joint31a1 --max_per_task 10 --systems mt_lora
}
only() {  # only NAME SYSTEMS: decode with the definition removed from the prompt (eval.py --adapter_only)
  python eval.py --ckpt $RUNS/$1 --max_per_task 10 --adapter_only --systems $2
}
mean() {  # mean NAME: add eval.py's hypernet_mean control (every task gets the mean of the training tasks' adapters)
  python eval.py --ckpt $RUNS/$1 --max_per_task 10 --systems hypernet,hypernet_shuffled,hypernet_mean
}
dist31s() { python scripts/distil.py --bank $RUNS/bank31s --out_dir $RUNS/dist31s --steps 300 --lr 1e-2; }  # fit only
lin31s() {  # bank31s's rows as a linear function of the codes: a training task gets its row, a new one the regression
  python scripts/distil.py --bank $RUNS/bank31s --out_dir $RUNS/lin31s --linear
  python eval.py --ckpt $RUNS/lin31s --max_per_task 10 --systems hypernet,hypernet_shuffled
}
# Two lanes: joint31, hyper31s1, hyper31id and hyper31m3; hyper31, joint31s1, bank31 and bank31p (~4 h 30 min on
# the AMD EPYC 2-core VM before bank31p). On 2026-12-07 hyper31s1 was started by hand on the thread joint31 freed, joint31s1
# last, alone on two threads (OMP_NUM_THREADS=2), and in a second session hyper31id, bank31 and hyper31m3 as
# three one-thread jobs at once on the two cores, with the same commands otherwise.
ARMS="joint31 hyper31 hyper31s1 joint31s1 hyper31id bank31 hyper31m3 bank31p"
case ${1:-all} in  # one arm alone: run.sh joint31 | ... | lin31s | joint31s2 | hyper31ds2 | hyper31d3 | hyper31k0 | hyper31k0h | hyper116k0 | joint116 | hyper31k0dd | joint31dd | hyper31k0dds1 | joint31dds1 | hyper31k0dds2 | joint31dds2 | hyper31k0dq | hyper31k0a1 | joint31a1 | hyper116k0dd | joint116dd | joint116all | mean NAME | only NAME SYSTEMS
  joint31|hyper31|hyper31s1|joint31s1|hyper31id|bank31|hyper31m3|bank31p|bank31s|hyper31d|hyper31ds1|dist31s|lin31s|joint31s2|hyper31ds2|hyper31d3|hyper31k0|hyper31k0h|hyper116k0|joint116|hyper31k0dd|joint31dd|hyper31k0dds1|joint31dds1|hyper31k0dds2|joint31dds2|hyper31k0dq|hyper31k0a1|joint31a1|hyper116k0dd|joint116dd|joint116all) $1 ;;
  mean) mean $2 ;;
  only) only $2 $3 ;;
  all) { for r in joint31 hyper31s1 hyper31id hyper31m3; do $r > $RUNS/$r.log 2>&1; done; } &
       { for r in hyper31 joint31s1 bank31 bank31p; do $r > $RUNS/$r.log 2>&1; done; } &
       wait
       for r in $ARMS; do
         mkdir -p results/sni-joint-2026-12-07/$r/logs
         cp $RUNS/$r/eval/sni-155/{table.md,per_task.md,predictions-*.jsonl} results/sni-joint-2026-12-07/$r/
         cp $RUNS/$r.log $RUNS/$r/metrics.jsonl results/sni-joint-2026-12-07/$r/logs/
       done
       python results/sni-joint-2026-12-07/compare.py ;;
esac
