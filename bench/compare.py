# Joins Google Benchmark JSON (hmr) and the PyTorch twins' JSON lines into one table:
# case, hmr figure, torch figure, ratio (hmr speed / torch speed; > 1 means hmr is faster).
#   python3 bench/compare.py --hmr a.json b.json --torch t.jsonl [--markdown]
import argparse
import json
import os
import sys


def hmr_figures(path):
    """case -> (value, unit) from a Google Benchmark JSON file (median aggregate if repeated)."""
    if not os.path.exists(path):
        print(f"compare.py: {path} is missing (that benchmark failed; see its log)", file=sys.stderr)
        return {}
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    figures = {}
    for run in runs:
        if run.get("run_type") == "aggregate" and run.get("aggregate_name") != "median":
            continue
        case = run.get("run_name", run["name"]).removesuffix("/real_time")
        if run.get("error_occurred"):
            continue
        if "FLOPS" in run:
            figures[case] = (run["FLOPS"] / 1e9, "GFLOP/s")
        elif case.startswith("tiny_add"):
            figures[case] = (1e9 / run["items_per_second"], "ns")
        elif run.get("time_unit") == "ms":  # whole-model cases (bench/resnet.cpp)
            figures[case] = (run["real_time"], "ms")
        else:
            figures[case] = (run["bytes_per_second"] / 1e9, "GB/s")
    return figures


def torch_figures(path):
    figures = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                row = json.loads(line)
                figures[row["case"]] = (row["value"], row["unit"])
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hmr", nargs="+", required=True)
    parser.add_argument("--torch", nargs="+", required=True)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    ours, theirs = {}, {}
    for p in args.hmr:
        ours.update(hmr_figures(p))
    for p in args.torch:
        theirs.update(torch_figures(p))

    rows = []
    for case, (value, unit) in ours.items():
        other = theirs.get(case)
        if other is None:
            rows.append((case, f"{value:.3g} {unit}", "-", "-"))
            continue
        # Times: smaller is better, so the speed ratio is theirs / ours.
        ratio = other[0] / value if unit in ("ns", "ms") else value / other[0]
        rows.append((case, f"{value:.3g} {unit}", f"{other[0]:.3g} {other[1]}", f"{ratio:.2f}"))

    header = ("case", "hmr", "torch", "hmr/torch speed")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
        for r in [header] + rows:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
