"""Make the trimmed SNI copy the repository carries (data/sni/), from an SNI folder (tasks/, splits/).

    python scripts/trim_sni.py --src ../shared/data/sni --dst data/sni --max_instances 80

Each task file keeps every field as published (Definition, examples, Source, Contributors, URL and the
"Instance License" among them) except Instances: a file with more than --max_instances keeps a seeded
sample of that many, in file order. A sample, not a prefix: some files list their labels in order
(alternating or cycling), so a prefix would be biased. The splits/ folder is copied as it is.
Files are written compactly (one line, non-ASCII kept) so that 148 tasks fit in about 4 MB.
"""
import argparse
import json
import random
import shutil
import sys
from pathlib import Path


def trim(task: dict, name: str, max_instances: int, seed: int) -> dict:
    inst = task.get("Instances")
    if not isinstance(inst, list):
        raise SystemExit(f"error: {name}: 'Instances' is missing or not a list")
    if len(inst) > max_instances:
        keep = sorted(random.Random(f"trim/{seed}/{name}").sample(range(len(inst)), max_instances))
        inst = [inst[i] for i in keep]
    return {**task, "Instances": inst}  # key order as in the file


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", default="../shared/data/sni", help="SNI folder with tasks/ and splits/")
    p.add_argument("--dst", default="data/sni", help="output folder (replaced)")
    p.add_argument("--max_instances", type=int, default=80, help="instances kept per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_mb", type=float, default=5.0, help="refuse to write more than this many MB of task files")
    a = p.parse_args(argv)
    src, dst = Path(a.src), Path(a.dst)
    files = sorted((src / "tasks").glob("*.json"))
    if not files or not (src / "splits").is_dir():
        raise SystemExit(f"error: {src}: expected an SNI folder with tasks/*.json and splits/")
    out = {}
    for f in files:
        try:
            task = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            raise SystemExit(f"error: {f}: {e}")
        # allow_nan: some files carry "URL": [NaN] as published; keep them byte-for-byte in meaning
        out[f.name] = json.dumps(trim(task, f.stem, a.max_instances, a.seed), ensure_ascii=False) + "\n"
    size = sum(len(s.encode()) for s in out.values()) / 1e6
    if size > a.max_mb:
        raise SystemExit(f"error: --max_instances {a.max_instances} gives {size:.2f} MB of task files, over --max_mb {a.max_mb}")
    if dst.exists():
        shutil.rmtree(dst / "tasks", ignore_errors=True)
        shutil.rmtree(dst / "splits", ignore_errors=True)
    (dst / "tasks").mkdir(parents=True, exist_ok=True)
    for name, text in out.items():
        (dst / "tasks" / name).write_text(text)
    shutil.copytree(src / "splits", dst / "splits")
    print(f"wrote {len(out)} task files ({size:.2f} MB, at most {a.max_instances} instances each) and splits/ to {dst}")


if __name__ == "__main__":
    sys.exit(main())
