"""Rebuild an evaluation folder's tables from its predictions: no model, no checkpoint.

    python scripts/tables.py runs/results/hypernet/eval/sni-75 [--data_dir data/sni]

    python scripts/tables.py runs/D116/eval/sni-180 --take runs/V116/eval/sni-180

For predictions made elsewhere (a GPU machine, a run killed before its last eval.py call) and
copied here without checkpoints. Every system in the folder's results.json cache whose
predictions-<system>.jsonl is present is scored again from its records; in an adapter-only folder
the base-model systems come from the sibling folder without '-adapter_only' (they never see an
adapter, so they are the same answers), as eval.py itself reuses them. --take FOLDER compares a
run against baselines another run's evaluation already decoded: the base-model systems, mt_lora and
lora this folder lacks come from FOLDER when it was evaluated with the same settings (tasks,
instances, lengths, data; the same adapter-only mode), so a second hypernetwork run needs no new
baseline pass. Writes table.md, per_task.md, per_category.md and results.json as eval.py does
(scores, intervals and paired differences through eval.py's own functions), keeping the notes of
the last eval.py call: its adapter diversity and adapter-writing time. The decoding-time note covers
every row, each system's time read where its predictions were made.
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
TAKEN = BASE_SYSTEMS + ("mt_lora", "lora")  # --take: systems whose answers do not depend on the hypernetwork run


def read_jsonl(path: Path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def rebuild(folder: Path, data_dir=None, take=()) -> dict:
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
    # where each system's predictions are: this folder, (base systems, adapter-only) the prompt-mode
    # sibling, then (baselines) the --take folders; the first whose settings agree, but for the checkpoint
    sources = {n: folder for n in res["cache"] if (folder / f"predictions-{n}.jsonl").is_file()}
    expected = {k: v for k, v in st.items() if k != "ckpt"}
    adapter_only = folder.name.endswith("-adapter_only")
    sibling = folder.parent / folder.name.removesuffix("-adapter_only")
    donors = [(sibling, BASE_SYSTEMS, False)] * (sibling != folder) + [(Path(t), TAKEN, True) for t in take]
    loaded = {folder: res}  # results.json of each folder read
    for donor, names, asked in donors:
        if not (donor / "results.json").is_file():
            if asked:
                raise SystemExit(f"error: --take {donor}: no results.json (not an eval.py folder)")
            continue
        loaded[donor] = json.loads((donor / "results.json").read_text())
        other = loaded[donor]["cache"]
        fits = [n for n in names if n not in sources and n in other and (donor / f"predictions-{n}.jsonl").is_file()
                and other[n].get("adapter_only", adapter_only) == adapter_only]
        differ = {n: [k for k, v in expected.items() if other[n].get(k) != v] for n in fits}
        if asked and any(differ.values()):
            keys = sorted({k for ks in differ.values() for k in ks})
            raise SystemExit(f"error: --take {donor}: evaluated with other settings than {folder} ({', '.join(keys)})")
        sources.update({n: donor for n in fits if not differ[n]})
        if asked and not fits:
            raise SystemExit(f"error: --take {donor}: no baseline ({', '.join(TAKEN)}) that {folder} lacks, "
                             f"{'adapter-only' if adapter_only else 'with the definition in the prompt'}")
    if not sources:
        raise SystemExit(f"error: {folder}: no predictions-<system>.jsonl with settings in results.json")
    records, systems = {}, {}
    for n in ev.SYSTEMS:  # eval.py's row order
        if n in sources:
            records[n] = read_jsonl(sources[n] / f"predictions-{n}.jsonl")
            settings = res["cache"].get(n) or loaded[sources[n]]["cache"][n]
            systems[n] = {"settings": settings, "summary": ev.summarize(records[n], tasks_by_name)}
    # decoding time as measured where each system's predictions were made
    timing = {n: t for n in records if (t := loaded[sources[n]].get("speed", {}).get("decode", {}).get(n))}
    res.update(systems=systems, differences={}, complete=True, speed={**res.get("speed", {}), "decode": timing})
    res.setdefault("header", ev.header(res))  # an eval.py call stopped before its end wrote none
    ev.compare(res, records, tasks_by_name)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # the decoding line of every row, in place of the last eval.py call's, which timed only the systems it ran
    decoding = ev.decoding_note(timing, records)
    notes = [n for n in res["notes"] if not n.startswith(("tables rebuilt", "decoding, seconds"))]
    at = next((i for i, n in enumerate(notes) if n.startswith("none of the run's")), len(notes))  # eval.py's order
    res["notes"] = notes[:at] + [decoding] * bool(decoding) + notes[at:] + [
        f"tables rebuilt from the predictions by scripts/tables.py on {now}: "
        + ", ".join(f"{n} from {sources[n].name if sources[n].parent == folder.parent else sources[n]}/" for n in records)]
    lora.write_atomic(folder / "table.md", ev.table(res))
    lora.write_atomic(folder / "per_task.md", ev.detail_table(res, "per_task"))
    lora.write_atomic(folder / "per_category.md", ev.detail_table(res, "per_category"))
    lora.write_atomic(path, json.dumps(res, indent=1, ensure_ascii=False))
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", help="eval.py output folders (<run>/eval/<data>-<step>[-adapter_only])")
    p.add_argument("--data_dir", default=None, help="the data folder evaluated on (default: the path results.json names)")
    p.add_argument("--take", action="append", default=[], metavar="FOLDER",
                   help="take the baselines (base systems, mt_lora, lora) the folder lacks from another eval.py folder "
                        "of the same settings (repeatable)")
    a = p.parse_args(argv)
    for folder in a.folders:  # prompt-mode folders first: adapter-only ones read their base systems
        res = rebuild(Path(folder), a.data_dir, a.take)
        print(ev.table(res))


if __name__ == "__main__":
    main()
