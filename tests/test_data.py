"""data.py: SNI loading (real files and synthetic quirks), bad inputs, prompt format, loss mask,
truncation, built-in tasks, sampler and sharding."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import data
from conftest import llama3_tokenizer_path
from model import Tokenizer


@pytest.fixture(scope="module")
def tok():
    return Tokenizer(llama3_tokenizer_path())


def write_sni(root: Path, tasks: dict, train: list, test: list = (), raw: dict = None) -> Path:
    """A small SNI folder: tasks given as dicts (json) or raw text (raw), plus the default split files."""
    (root / "tasks").mkdir(parents=True)
    (root / "splits" / "default").mkdir(parents=True)
    for name, d in tasks.items():
        (root / "tasks" / f"{name}.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    for name, text in (raw or {}).items():
        (root / "tasks" / f"{name}.json").write_text(text, encoding="utf-8")
    (root / "splits" / "default" / "train_tasks.txt").write_text("\n".join(train) + "\n")
    (root / "splits" / "default" / "test_tasks.txt").write_text("\n".join(test) + "\n")
    return root


def sni_task(n=10, definition="Copy the input.", **fields):
    d = {"Definition": [definition], "Categories": ["Test"],
         "Positive Examples": [{"input": "a", "output": "a", "explanation": "copied"}],
         "Negative Examples": [],
         "Instances": [{"id": f"t-{i}", "input": f"in {i}", "output": [f"out {i}"]} for i in range(n)]}
    d.update(fields)
    return d


def all_instances(task):
    return task.train + task.heldout


# ----------------------------------------------------------------------------- the shared SNI subset


def test_load_shared_sni(sni_dir):
    ts = data.load_tasks(sni_dir, log=None)
    split = sni_dir / "splits" / "default"
    n_seen, n_unseen = (len((split / f).read_text().split()) for f in ("train_tasks.txt", "test_tasks.txt"))
    assert n_seen >= 86 and n_unseen >= 26  # the subset grows (116 / 32 since 2026-11-30); files decide
    assert (len(ts.seen), len(ts.unseen)) == (n_seen, n_unseen) and ts.warnings == []
    assert ts.summary.startswith(f"data: {sni_dir} split=default: seen {n_seen} tasks")
    by_name = {t.name: t for t in ts.seen + ts.unseen}
    lost = 0
    for t in ts.seen:
        raw = json.loads(Path(t.path).read_text(encoding="utf-8"))["Instances"]
        n = sum(bool(data._references(i.get("output"))) for i in raw)  # usable: one task365 instance has no output
        assert len(t.heldout) == min(100, n // 2) and t.train, t.name
        assert not {i.id for i in t.train} & {i.id for i in t.heldout}
        assert not {i.input for i in t.train} & {i.input for i in t.heldout}  # never trained on, inputs too
        lost += n - len(all_instances(t))
    assert f"{lost} train instances repeating a held-out input" in ts.summary
    # held-out rule: 100 for big tasks, half for small ones (part B: 22-44 instances)
    assert len(by_name["task1759_gsm"].heldout) == 100
    assert len(by_name["task664_mmmlu_answer_generation_abstract_algebra"].heldout) == 112 // 2
    small = by_name["task063_first_i_elements"]
    assert (len(small.heldout), len(small.train)) == (12, 13)
    # unseen: SNI's evaluation instances are the file's first ones
    raw = json.loads((sni_dir / "tasks" / "task1739_bbh_hyperbaton.json").read_text())
    assert [i.id for i in by_name["task1739_bbh_hyperbaton"].heldout] == [i["id"] for i in raw["Instances"][:100]]
    # deterministic
    again = data.load_tasks(sni_dir, log=None)
    assert [[i.id for i in t.heldout] for t in again.seen] == [[i.id for i in t.heldout] for t in ts.seen]


def test_shared_sni_quirks(sni_dir):
    by_name = {t.name: t for t in data.load_tasks(sni_dir, log=None).seen}
    gsm = {i.id: i for i in all_instances(by_name["task1759_gsm"])}
    assert gsm["task1759_0"].outputs == ["18"]  # "output": [18] in the file
    assert by_name["task063_first_i_elements"].definition.startswith("In this task")  # "URL": [NaN]
    bbh = by_name["task1732_bbh_boolean_expressions"]  # no Input_language, Source, Domains, ...
    assert bbh.input_language is None and bbh.output_language is None and bbh.categories
    assert by_name["task1239_ted_translation_gl_ja"].output_language == ["Japanese"]
    med = by_name["task690_mmmlu_answer_generation_college_medicine"]  # two U+FEFF inside inputs
    assert not any("\ufeff" in i.input for i in all_instances(med))

    english = data.load_tasks(sni_dir, english_only=True, log=None)
    names = {t.name for t in english.seen + english.unseen}
    assert "task1239_ted_translation_gl_ja" not in names  # Galician -> Japanese
    assert "task1435_ro_sts_parallel_language_translation_ro_to_en" not in names  # Romanian input
    assert "task1732_bbh_boolean_expressions" in names  # no language fields: kept, and counted
    assert "2 non-English" in english.summary and "24 tasks without language fields kept" in english.summary


# ----------------------------------------------------------------------------- the trimmed copy in data/sni

TRIMMED = Path(__file__).resolve().parents[1] / "data" / "sni"


def test_trimmed_copy_loads_and_is_small():
    """data/sni (what the published results use) is in the repository: it always loads, whole."""
    files = sorted((TRIMMED / "tasks").glob("*.json"))
    assert len(files) == 148 and sum(f.stat().st_size for f in files) <= 5e6
    assert all(len(json.loads(f.read_text())["Instances"]) <= 80 for f in files)
    ts = data.load_tasks(TRIMMED, log=None)
    assert (len(ts.seen), len(ts.unseen)) == (116, 32) and ts.warnings == []
    assert min(len(t.heldout) for t in ts.seen) >= 11 and all(t.train for t in ts.seen)
    assert math.isnan(json.loads((TRIMMED / "tasks" / "task063_first_i_elements.json").read_text())["URL"][0])  # as published


def test_trimmed_copy_is_what_trim_sni_makes(sni_dir, tmp_path):
    """Byte for byte what scripts/trim_sni.py writes from the subset; every field but Instances kept, and
    the kept instances are the source's own, in its order."""
    r = subprocess.run([sys.executable, "scripts/trim_sni.py", "--src", str(sni_dir), "--dst", str(tmp_path / "sni")],
                       cwd=TRIMMED.parents[1], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    made = sorted((tmp_path / "sni").rglob("*.*"))
    assert [p.relative_to(tmp_path / "sni") for p in made] == \
        [p.relative_to(TRIMMED) for p in sorted(TRIMMED.rglob("*.*")) if p.name != "README.md"]
    assert all(p.read_bytes() == (TRIMMED / p.relative_to(tmp_path / "sni")).read_bytes() for p in made)
    for f in sorted((sni_dir / "tasks").glob("*.json")):
        src, cut = json.loads(f.read_text()), json.loads((TRIMMED / "tasks" / f.name).read_text())
        assert list(cut) == list(src) and all(cut[k] == src[k] or k in ("Instances", "URL") for k in src), f.name
        ids = [i["id"] for i in src["Instances"]]
        kept = [ids.index(i["id"]) for i in cut["Instances"]]
        assert kept == sorted(kept) and len(kept) == min(80, len(ids)), f.name


# ----------------------------------------------------------------------------- quirks on synthetic files


def test_quirks_synthetic(tmp_path):
    tasks = {
        "numeric": sni_task(Instances=[{"id": "n0", "input": "2+2", "output": [4]},
                                       {"id": "n1", "input": "1.5*2", "output": [3.0, "3"]},
                                       {"id": "n2", "input": "x", "output": 7}]),
        "example_outputs": sni_task(**{"Positive Examples": [{"input": "p", "output": "plain"},
                                                             {"input": "q", "output": ["listed", "other"]},
                                                             {"input": "r", "output": []}]}),
        "non_english": sni_task(Input_language=["English"], Output_language=["Japanese"]),
        "english": sni_task(Input_language=["English"], Output_language=["English"]),
        "bom_tab": sni_task(Instances=[{"id": "b0", "input": "  col1\tcol2  two\ufeff spaces \n",
                                        "output": ["\ufeffyes "]}]),
        "multi_def": sni_task(definition="ignored", Definition=["First part.", "Second part."]),
    }
    nan_url = json.dumps(sni_task()).replace('"Categories"', '"URL": [NaN], "Categories"')
    root = write_sni(tmp_path / "sni", tasks, train=[*tasks, "nan_url"], raw={"nan_url": nan_url})
    ts = data.load_tasks(root, n_heldout=1, log=None)
    t = {t.name: t for t in ts.seen}
    assert {i.id: i.outputs for i in all_instances(t["numeric"])} == {"n0": ["4"], "n1": ["3.0", "3"], "n2": ["7"]}
    assert t["example_outputs"].positive_examples == [("p", "plain"), ("q", "listed")]
    assert "1 positive examples without an output" in ts.summary
    assert t["nan_url"].train  # missing metadata (no languages, no URL string) is fine
    assert t["nan_url"].input_language is None
    # fields are stripped and U+FEFF removed; inner tabs and doubled spaces kept
    assert t["bom_tab"].train[0].input == "col1\tcol2  two spaces" and t["bom_tab"].train[0].outputs == ["yes"]
    assert t["multi_def"].definition == "First part.\nSecond part."

    en = data.load_tasks(root, english_only=True, log=None)
    names = {t.name for t in en.seen}
    assert "non_english" not in names and {"english", "numeric", "nan_url"} <= names
    assert "1 non-English" in en.summary


def test_heldout_inputs_never_trained_on(tmp_path):
    # half the inputs are one repeated text: whichever 12 are held out, some training instances remain
    dup = sni_task(Instances=[{"id": f"d{i}", "input": "same" if i < 12 else f"q{i}", "output": [f"a{i}"]}
                              for i in range(24)])
    ts = data.load_tasks(write_sni(tmp_path / "sni", {"dup": dup}, train=["dup"]), log=None)
    t = ts.seen[0]
    assert len(t.heldout) == 12 and t.train
    assert not {i.input for i in t.train} & {i.input for i in t.heldout}
    assert f"{12 - len(t.train)} train instances repeating a held-out input" in ts.summary


# ----------------------------------------------------------------------------- bad inputs


def test_corrupt_task_file(tmp_path):
    root = write_sni(tmp_path / "sni", {"good": sni_task()}, train=["good", "broken"],
                     raw={"broken": '{"Definition": ["x"], "Instances": [\n  {"id": 1,,}]}'})
    with pytest.raises(ValueError) as e:
        data.load_tasks(root, log=None)
    msg = str(e.value)
    assert str(root / "tasks" / "broken.json") in msg and "invalid JSON" in msg and "\n" not in msg
    logged = []
    ts = data.load_tasks(root, strict=False, log=logged.append)
    assert [t.name for t in ts.seen] == ["good"] and len(ts.warnings) == 1 and "broken.json" in ts.warnings[0]
    assert "dropped 1 tasks (1 corrupt" in ts.summary and logged == [f"warning: {ts.warnings[0]}", ts.summary]


def test_invalid_json_message_reads_once(tmp_path):
    # json's own message can end in "at" ("Unterminated string starting at"): never "at at line"
    root = write_sni(tmp_path / "sni", {}, train=["cut"], raw={"cut": '{"Definition": ["x"], "Instances": [{"id": "'})
    with pytest.raises(ValueError) as e:
        data.load_tasks(root, log=None)
    assert "invalid JSON (Unterminated string starting at line 1 column 44)" in str(e.value), str(e.value)
    assert " at at " not in str(e.value)


def test_not_a_task_file(tmp_path):
    root = write_sni(tmp_path / "sni", {"nodef": {"Instances": []}, "notobj": [1, 2]}, train=["nodef", "notobj"])
    with pytest.raises(ValueError, match="nodef.json: not an SNI task file"):
        data.load_tasks(root, log=None)
    ts = data.load_tasks(root, strict=False, log=None)
    assert ts.seen == [] and "2 corrupt" in ts.summary


def test_split_names_missing_task(tmp_path):
    root = write_sni(tmp_path / "sni", {"good": sni_task()}, train=["good"], test=["absent"])
    with pytest.raises(FileNotFoundError, match="absent.json: task named in splits/default/ but its file is missing"):
        data.load_tasks(root, log=None)
    ts = data.load_tasks(root, strict=False, log=None)
    assert ts.unseen == [] and "1 missing" in ts.summary and "absent.json" in ts.warnings[0]
    with pytest.raises(FileNotFoundError, match="split file not found"):
        data.load_tasks(root, split="nosuch", log=None)


@pytest.mark.parametrize("line", [",".join(f"task{i:03d}_some_long_task_name" for i in range(20)),  # > 255 bytes
                                  "good, other", "../good", "good other"], ids=["list", "comma", "path", "space"])
def test_split_line_that_is_not_a_task_name(tmp_path, line):
    """A split line must be one task file name: a comma-separated list once reached pathlib as one name
    and died there with OSError "File name too long"."""
    root = write_sni(tmp_path / "sni", {"good": sni_task()}, train=["good"])
    split = root / "splits" / "default" / "train_tasks.txt"
    split.write_text("# comment\ngood\n" + line + "\n")
    with pytest.raises(ValueError) as e:
        data.load_tasks(root, log=None)
    assert str(e.value).startswith(f"{split}:3: ") and "is not a task name" in str(e.value)
    assert "\n" not in str(e.value) and len(str(e.value)) < len(str(split)) + 200


def test_task_without_usable_instances(tmp_path):
    tasks = {"none": sni_task(Instances=[]),
             "blank": sni_task(Instances=[{"id": "e0", "input": "x", "output": [""]},
                                          {"id": "e1", "input": "y", "output": []}]),
             "partly": sni_task(Instances=[{"id": "p0", "input": "x", "output": ["ok"]},
                                           {"id": "p1", "input": "y", "output": [" "]}])}
    root = write_sni(tmp_path / "sni", tasks, train=list(tasks))
    with pytest.raises(ValueError, match="none.json: no usable instances"):
        data.load_tasks(root, log=None)
    ts = data.load_tasks(root, strict=False, log=None)
    assert [t.name for t in ts.seen] == ["partly"]
    assert "2 without instances" in ts.summary and "3 instances and 0 positive examples without" in ts.summary


# ----------------------------------------------------------------------------- prompts, mask, truncation


TASK = data.Task(name="t", definition="Reverse the word.",
                 positive_examples=[data.Example("cat", "tac"), data.Example("dog", "god"), data.Example("x", "x")],
                 train=[data.Instance("i0", "hello", ["olleh", "OLLEH"])], heldout=[])


def test_prompt_format_exact():
    assert data.format_prompt(TASK, "hello") == (
        "Definition: Reverse the word.\n"
        "\n"
        "Now complete the following example -\n"
        "Input: hello\n"
        "Output:")
    assert data.format_prompt(TASK, "hello", n_shot=2) == (
        "Definition: Reverse the word.\n"
        "\n"
        "Positive Example 1 -\n"
        "Input: cat\n"
        "Output: tac\n"
        "Positive Example 2 -\n"
        "Input: dog\n"
        "Output: god\n"
        "Now complete the following example -\n"
        "Input: hello\n"
        "Output:")
    assert data.task_text(TASK) == "Definition: Reverse the word."
    # adapter only: the definition paragraph goes, everything else is byte-identical
    assert data.format_prompt(TASK, "hello", n_shot=1, with_definition=False) == (
        "Positive Example 1 -\nInput: cat\nOutput: tac\nNow complete the following example -\nInput: hello\nOutput:")
    assert data.task_text(TASK, 1) == "Definition: Reverse the word.\n\nPositive Example 1 -\nInput: cat\nOutput: tac"


def test_loss_mask_covers_target_only(tok):
    for n_shot in (0, 2):
        e = data.encode_example(tok, TASK, TASK.train[0], n_shot=n_shot)
        assert len(e.tokens) == len(e.mask) and not e.truncated
        target = [t for t, m in zip(e.tokens, e.mask) if m]
        assert tok.decode(target) == " olleh<|end_of_text|>" and target[-1] == tok.eos_id
        n_prompt = e.mask.index(True)
        assert all(e.mask[n_prompt:])  # one contiguous target at the end
        assert e.tokens[:n_prompt] == tok.encode(data.format_prompt(TASK, "hello", n_shot), bos=True, eos=False)
        assert e.tokens[0] == tok.bos_id


def test_bos_follows_tokenizer(tok):
    class NoBos:  # like the converted SmolLM2 tokenizer: add_bos False
        add_bos, eos_id = False, tok.eos_id
        encode, decode = tok.encode, tok.decode
    e = data.encode_example(NoBos(), TASK, TASK.train[0])
    assert e.tokens[0] != tok.bos_id
    assert e.tokens == data.encode_example(tok, TASK, TASK.train[0]).tokens[1:]


def test_truncation_cuts_input_not_target(tok):
    long_input = " ".join(f"word{i}" for i in range(400)) + " Question: which word comes last?"
    inst = data.Instance("long", long_input, ["word399"])
    full = data.encode_example(tok, TASK, inst, n_shot=2)
    assert not full.truncated and len(full.tokens) > 500
    n_trunc, max_len = 0, 128
    for n_shot in (0, 2):
        e = data.encode_example(tok, TASK, inst, n_shot=n_shot, max_len=max_len)
        n_trunc += e.truncated
        assert len(e.tokens) <= max_len
        assert tok.decode([t for t, m in zip(e.tokens, e.mask) if m]) == " word399<|end_of_text|>"
        text = tok.decode(e.tokens)
        # the demonstrations go first, then the input's front; its end is kept
        assert text.startswith("<|begin_of_text|>Definition: Reverse the word.\n\nNow complete")
        assert "Question: which word comes last?\nOutput: word399" in text
        assert "word0 " not in text
    assert n_trunc == 2
    # a short input is untouched when only the demonstrations are too long
    short = data.encode_example(tok, TASK, TASK.train[0], n_shot=2, max_len=40)
    assert short.truncated and "Input: hello\nOutput: olleh" in tok.decode(short.tokens)
    assert "Positive Example 2" not in tok.decode(short.tokens)
    with pytest.raises(ValueError, match="exceed max_len=8"):
        data.encode_example(tok, TASK, inst, max_len=8)
    bare = data.encode_example(tok, TASK, inst, max_len=max_len, with_definition=False)
    assert len(bare.tokens) <= max_len and "Definition" not in tok.decode(bare.tokens)
    assert tok.decode(bare.tokens).startswith("<|begin_of_text|>Now complete the following example -\nInput: ")


def test_fit_max_len_keeps_exactly_what_encode_example_can_encode(tok, tmp_path):
    """The oracle is encode_example itself: an instance is kept iff it encodes within max_len."""
    outs = ["word " * 5, "long answer " * 40, "é" * 30, "最长" * 20, "🙂" * 9]
    insts = [{"id": f"t-{i}", "input": f"case {i}: " + "in " * 50, "output": [o]} for i, o in enumerate(outs * 3)]
    root = write_sni(tmp_path, {"t1": sni_task(definition="Answer at length. " * 10, Instances=insts)}, ["t1"])
    task = data.load_tasks(root, n_heldout=6, log=None).seen[0]
    seen_kinds = set()
    for max_len in (12, 16, 18, 20, 22, 30, 45, 70, 140, 600):
        for with_def in (True, False):
            def ok(inst):
                try:
                    e = data.encode_example(tok, task, inst, n_shot=1, max_len=max_len, with_definition=with_def)
                except data.PromptTooLong:
                    return False
                assert len(e.tokens) <= max_len
                return True
            want = [[i.id for i in part if ok(i)] for part in (task.train, task.heldout)]
            try:
                (kept,), n = data.fit_max_len(tok, [task], max_len, with_def)
            except data.PromptTooLong as e:
                assert want[0] == [], (max_len, with_def)
                seen_kinds.add("bare" if "bare prompt template" in str(e) else "none")
                continue
            assert [[i.id for i in kept.train], [i.id for i in kept.heldout]] == want
            assert n == len(task.train) + len(task.heldout) - len(want[0]) - len(want[1])
            seen_kinds.add("all" if n == 0 else "some")
    assert seen_kinds == {"bare", "none", "some", "all"}  # every branch was met


def test_collate():
    tokens, mask = data.collate([([5, 6, 7], [False, True, True]), data.Encoded([8], [True], False)], pad_id=3)
    assert tokens.tolist() == [[5, 6, 7], [8, 3, 3]] and tokens.dtype == torch.long
    assert mask.tolist() == [[False, True, True], [True, False, False]] and mask.dtype == torch.bool
    assert data.collate([([5], [True]), ([1, 2], [False, True])], pad_id=-1)[0].tolist() == [[5, 0], [1, 2]]


# ----------------------------------------------------------------------------- built-in tasks


def test_builtin_tasks_deterministic():
    a, b, c = data.builtin_tasks(seed=0), data.builtin_tasks(seed=0), data.builtin_tasks(seed=1)
    assert json.dumps(a) == json.dumps(b) and json.dumps(a) != json.dumps(c)
    seen, unseen = a
    assert len(seen) + len(unseen) >= 20 and len(unseen) >= 5 and not set(seen) & set(unseen)
    for d in {**seen, **unseen}.values():  # SNI's shape
        assert isinstance(d["Definition"], list) and d["Categories"] and len(d["Positive Examples"]) >= 2
        assert all(isinstance(i["output"], list) and i["id"] and i["input"] for i in d["Instances"])
    # same inputs, different outputs: the instruction decides
    rep, rev = seen["builtin_repeat_word"]["Instances"], seen["builtin_reverse_word"]["Instances"]
    assert [i["input"] for i in rep] == [i["input"] for i in rev]
    assert all(x["output"] != y["output"] for x, y in zip(rep, rev))

    ts = data.load_tasks(None, log=None)
    assert [t.name for t in ts.seen] == list(seen) and [t.name for t in ts.unseen] == list(unseen)
    assert all(len(t.train) == 100 and len(t.heldout) == 100 for t in ts.seen)
    assert "dropped 0 tasks" in ts.summary


def test_builtin_tasks_load_from_disk_identically(tmp_path):
    root = data.write_builtin_tasks(tmp_path / "builtin", seed=0)
    from_disk, in_memory = data.load_tasks(root, log=None), data.load_tasks(None, log=None)
    for a, b in zip(from_disk.seen + from_disk.unseen, in_memory.seen + in_memory.unseen):
        a.path = None
        assert a == b


# ----------------------------------------------------------------------------- sampling and sharding


@pytest.fixture(scope="module")
def builtin():
    return data.load_tasks(None, log=None)


def test_sampler_pure_function_of_seed_and_step(builtin):
    kw = dict(seed=3, tasks_per_step=4, examples_per_task=2)
    b = data.sample_batch(builtin.seen, 7, **kw)
    assert len(b) == 8 and b == data.sample_batch(builtin.seen, 7, **kw)
    assert b != data.sample_batch(builtin.seen, 8, **kw)
    assert b != data.sample_batch(builtin.seen, 7, **{**kw, "seed": 4})
    assert len({t for t, _ in b}) == 4 and all(b[k][0] == b[k + 1][0] for k in range(0, 8, 2))  # task-major
    heldout_ids = {i.id for t in builtin.seen for i in t.heldout}
    for step in range(50):
        assert not {i.id for _, i in data.sample_batch(builtin.seen, step, **kw)} & heldout_ids
    # a task with fewer train instances than examples_per_task is sampled with replacement
    assert len(data.sample_batch(builtin.seen, 0, seed=0, tasks_per_step=1, examples_per_task=150)) == 150
    with pytest.raises(ValueError, match="tasks_per_step=17"):
        data.sample_batch(builtin.seen, 0, seed=0, tasks_per_step=17, examples_per_task=1)


@pytest.mark.parametrize("tasks_per_step,examples_per_task,world", [(4, 3, 2), (3, 4, 2), (3, 2, 4), (5, 1, 3)])
def test_shards_cover_global_batch(builtin, tasks_per_step, examples_per_task, world):
    kw = dict(seed=0, tasks_per_step=tasks_per_step, examples_per_task=examples_per_task)
    for step in range(3):
        single = data.sample_batch(builtin.seen, step, **kw)
        parts = [data.shard(data.sample_batch(builtin.seen, step, **kw), r, world) for r in range(world)]
        assert sum(parts, []) == single  # every rank computes the same global batch and keeps its part
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
        if tasks_per_step % world == 0:  # split by tasks: no task is on two ranks
            task_sets = [{t for t, _ in p} for p in parts]
            assert sum(map(len, task_sets)) == tasks_per_step


def test_heldout_items(builtin):
    items = data.heldout_items(builtin.unseen, max_per_task=5)
    assert len(items) == 5 * len(builtin.unseen)
    assert [(t, i.id) for t, i in items[:5]] == [(0, i.id) for i in builtin.unseen[0].heldout[:5]]
    assert sum((data.shard(items, r, 2) for r in range(2)), []) == items
