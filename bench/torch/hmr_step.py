# PyTorch twin of bench/hmr_step.cpp: the SPIN regressor (the model class of
# tests/fixtures/make_spin_fixtures.py) eval forward under no_grad and an Adam training step
# (lr 5e-5, mean squares of rotmat, betas and cam), in ms per iteration.
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
from make_spin_fixtures import SpinHMR  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timed block")
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
cuda = args.device.startswith("cuda")
if cuda:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
sync = torch.cuda.synchronize if cuda else (lambda: None)


def ms_per_iteration(op, blocks=3):
    """Median over blocks of the time per call; one call per iteration."""
    def run(iterations):
        start = time.perf_counter()
        for _ in range(iterations):
            op()
            sync()
        return time.perf_counter() - start

    first = run(1)  # warm-up: page faults, allocator caches, cuDNN autotuning
    iterations = max(1, int(args.min_time / max(run(1) if cuda else first, 1e-6)))
    return 1e3 * statistics.median(run(iterations) / iterations for _ in range(blocks))


def model(train):
    pose = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).repeat(24)
    m = SpinHMR(pose, torch.zeros(10), torch.tensor([0.9, 0.0, 0.1])).to(args.device)
    return m.train(train)


def emit(case, value):
    print(json.dumps({"case": case, "value": value, "unit": "ms"}), flush=True)


big = 64 if cuda else 8
for n in (1, big):
    m = model(False)
    x = torch.randn(n, 3, 224, 224, device=args.device)

    def infer():
        with torch.no_grad():
            m(x)
    emit(f"hmr_infer/f32/b{n}", ms_per_iteration(infer))

m = model(True)
x = torch.randn(big, 3, 224, 224, device=args.device)
adam = torch.optim.Adam(m.parameters(), lr=5e-5)


def step():
    adam.zero_grad()
    _, iterations, rotmat = m(x)
    _, betas, cam = iterations[-1]
    ((rotmat * rotmat).mean() + (betas * betas).mean() + (cam * cam).mean()).backward()
    adam.step()


emit(f"hmr_train/f32/b{big}", ms_per_iteration(step))
sys.exit(0)
