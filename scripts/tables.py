"""Rebuild an evaluation folder's tables from its predictions: no model, no checkpoint.

    python scripts/tables.py runs/results/hypernet/eval/sni-75 [--data_dir data/sni]

For predictions made elsewhere (a GPU machine, a run killed before its last eval.py call) and
copied here without checkpoints. Every system in the folder's results.json cache whose
predictions-<system>.jsonl is present is scored again from its records; in an adapter-only folder
the base-model systems come from the sibling folder without '-adapter_only' (they never see an
adapter, so they are the same answers), as eval.py itself reuses them. Writes table.md, per_task.md,
per_category.md and results.json as eval.py does (scores, intervals and paired differences through
eval.py's own functions), keeping the notes of the last eval.py call; adapter diversity and speed
notes are those that call measured.
"""
import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import data  # noqa: E402
import eval as ev  # noqa: E402
import lora  # noqa: E402

BASE_SYSTEMS = ("base", "fewshot", "base_chat", "fewshot_chat")


def read_jsonl(path: Path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def rebuild(folder: Path, data_dir=None) -> dict:
    path = folder / "results.json"
    if not path.is_file():
        raise SystemExit(f"error: {folder}: no results.json (not an eval.py folder)")
    res = json.loads(path.read_text())
    st = res["settings"]
    data_dir = data_dir or st["data_dir"]
    if data_dir and not Path(data_dir).is_dir():
        raise SystemExit(f"error: {data_dir}: no such data folder (the one evaluated on; pass --data_dir)")
    taskset = data.load_tasks(data_dir, st["split"], english_only=st["english_only"], n_heldout=st["n_heldout"],
                              seed=st["data_seed"], log=None)
    tasks_by_name = {t.name: t for t in taskset.seen + taskset.unseen if t.name in st["tasks"]}
    if len(tasks_by_name) != len(st["tasks"]):
        raise SystemExit(f"error: {data_dir}: {len(st['tasks']) - len(tasks_by_name)} of the evaluated tasks are missing")
    # where each system's predictions are: this folder, or (base systems, adapter-only) the prompt-mode sibling
    sources = {n: folder for n in res["cache"] if (folder / f"predictions-{n}.jsonl").is_file()}
    sibling = folder.parent / folder.name.removesuffix("-adapter_only")
    if sibling != folder and (sibling / "results.json").is_file():
        expected = {k: v for k, v in st.items() if k != "ckpt"}
        other = json.loads((sibling / "results.json").read_text())["cache"]
        for n in BASE_SYSTEMS:
            if n not in sources and n in other and all(other[n].get(k) == v for k, v in expected.items()) \
                    and (sibling / f"predictions-{n}.jsonl").is_file():
                sources[n] = sibling
    if not sources:
        raise SystemExit(f"error: {folder}: no predictions-<system>.jsonl with settings in results.json")
    records, systems = {}, {}
    for n in ev.SYSTEMS:  # eval.py's row order
        if n in sources:
            records[n] = read_jsonl(sources[n] / f"predictions-{n}.jsonl")
            settings = res["cache"].get(n) or json.loads((sources[n] / "results.json").read_text())["cache"][n]
            systems[n] = {"settings": settings, "summary": ev.summarize(records[n], tasks_by_name)}
    res.update(systems=systems, differences={}, complete=True)
    res.setdefault("header", ev.header(res))  # an eval.py call stopped before its end wrote none
    ev.compare(res, records, tasks_by_name)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    res["notes"] = [n for n in res["notes"] if not n.startswith("tables rebuilt")] + [
        f"tables rebuilt from the predictions by scripts/tables.py on {now}: "
        + ", ".join(f"{n} from {sources[n].name}/" for n in records)]
    lora.write_atomic(folder / "table.md", ev.table(res))
    lora.write_atomic(folder / "per_task.md", ev.detail_table(res, "per_task"))
    lora.write_atomic(folder / "per_category.md", ev.detail_table(res, "per_category"))
    lora.write_atomic(path, json.dumps(res, indent=1, ensure_ascii=False))
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="eval.py output folders (<run>/eval/<data>-<step>[-adapter_only])")
    p.add_argument("--data_dir", default=None, help="the data folder evaluated on (default: the path results.json names)")
    a = p.parse_args(argv)
    for folder in a.folders:  # prompt-mode folders first: adapter-only ones read their base systems
        res = rebuild(Path(folder), a.data_dir)
        print(ev.table(res))


if __name__ == "__main__":
    main()
