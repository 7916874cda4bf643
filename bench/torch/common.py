# Timing helpers for the PyTorch twins of the hmr benchmarks: the same cases, the same units,
# one JSON object per case on stdout ({"case", "value", "unit"}) for bench/compare.py.
# On CUDA a timed call is a batch of 20 ops and a synchronize, as in bench/common.h.
import argparse
import json
import statistics
import time

import torch


def setup(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timed block")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return args


def batch(device):
    return 20 if device.startswith("cuda") else 1


def seconds_per_op(op, device, min_time, blocks=3):
    """Median over blocks of the time per op; each block runs long enough to time reliably."""
    n = batch(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(iterations):
        start = time.perf_counter()
        for _ in range(iterations):
            for _ in range(n):
                op()
            sync()
        return time.perf_counter() - start

    run(1)  # warm-up: page faults, caches, library handles
    iterations = 1
    while run(iterations) < min_time / 10:
        iterations *= 4
    elapsed = run(iterations)
    iterations = max(1, int(iterations * min_time / max(elapsed, 1e-9)))
    return statistics.median(run(iterations) / (iterations * n) for _ in range(blocks))


def emit(case, value, unit):
    print(json.dumps({"case": case, "value": value, "unit": unit}), flush=True)


STREAM_SIZES = [1 << 20, 1 << 22, 1 << 24]
