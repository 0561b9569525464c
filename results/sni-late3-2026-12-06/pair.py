"""Each run here against its 10 x twin in ../sni-late-2026-12-06 (L3W - L125W, LD3 - LD125), and each
one's shuffled control against the twin's, on the same instances: eval.py's paired bootstrap over the
committed predictions (no model needed).

    python results/sni-late3-2026-12-06/pair.py prompt          # or: adapter_only
"""
import json
import sys
from pathlib import Path

R = Path(__file__).resolve().parents[1]  # results/
sys.path.insert(0, str(R.parent))
import eval as ev  # noqa: E402


def main(mode):
    rd = lambda p: [json.loads(line) for line in open(p)]  # noqa: E731
    for new, old in (("L3W", "L125W"), ("LD3", "LD125")):
        for s in ("hypernet", "hypernet_shuffled"):
            a = R / f"sni-late3-2026-12-06/{new}-{mode}/predictions-{s}.jsonl"
            b = R / f"sni-late-2026-12-06/{old}-{mode}/predictions-{s}.jsonl"
            if not (a.exists() and b.exists()):
                print(f"{new} - {old} ({s}): not evaluated in this setting")
                continue
            p = ev.paired(rd(a), rd(b))
            print(f"{new} - {old} ({s}): " + "; ".join(
                f"{k} {p[k]['rougeL']['diff']:+.1f} [{p[k]['rougeL']['ci'][0]:+.1f}, {p[k]['rougeL']['ci'][1]:+.1f}]" for k in p))


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("prompt", "adapter_only"):
        sys.exit("usage: pair.py prompt|adapter_only")
    main(sys.argv[1])
