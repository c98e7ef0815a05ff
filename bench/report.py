"""Turn a pytest-benchmark JSON file into the ratio table of bench/README.md.

    python bench/report.py bench/results/gemm.json [more.json ...]

For each group: each peer's best (min) time, its GFLOP/s where the benchmark recorded its flop count, and
the ratio baseline_time / pynn_time (> 1 means pynn is faster). Baseline: numpy, else the other non-pynn peer.
"""
import json
import sys
from collections import defaultdict


def main(paths):
    groups = defaultdict(dict)
    meta = None
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        meta = data.get("pynn", meta)
        for bench in data["benchmarks"]:
            params = bench.get("params") or {}
            peer = params.get("peer") or params.get("impl") or bench["name"]
            if params.get("num_threads") == 1:
                peer += " 1-thread"
            groups[bench["group"]][peer] = (bench["stats"]["min"], bench.get("extra_info", {}).get("flop"))
    if meta:
        print(f"threads={meta['threads']} isa={meta['isa']} numpy={meta['numpy']} torch={meta['torch']}\n")
    peers = sorted({p for g in groups.values() for p in g}, key=lambda p: (p != "pynn", p))
    others = [p for p in peers if p != "pynn"]
    head = ["group"] + [f"{p} (us)" for p in peers] + [f"{p} / pynn" for p in others] + ["pynn GFLOP/s"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, res in groups.items():
        row = [name]
        row += [f"{res[p][0] * 1e6:.1f}" if p in res else "-" for p in peers]
        row += [f"{res[p][0] / res['pynn'][0]:.2f}x" if p in res and "pynn" in res else "-" for p in others]
        flop = res.get("pynn", (None, None))[1]
        row.append(f"{flop / res['pynn'][0] / 1e9:.0f}" if flop else "-")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
