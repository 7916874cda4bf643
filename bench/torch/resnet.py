# PyTorch twin of bench/resnet.cpp: torchvision ResNet-18/50 eval forward under no_grad and a
# training step (mean of squared logits, backward, SGD step), in ms per iteration.
import argparse
import json
import statistics
import sys
import time

import torch
import torchvision

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timed block")
parser.add_argument("--precision", default="f32", choices=("f32", "tf32", "bf16"))
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
cuda = args.device.startswith("cuda")
if cuda:
    torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = args.precision == "tf32"
dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
sync = torch.cuda.synchronize if cuda else (lambda: None)


def ms_per_iteration(op, blocks=3):
    """Median over blocks of the time per call; one call per iteration (they take ms to s)."""
    def run(iterations):
        start = time.perf_counter()
        for _ in range(iterations):
            op()
            sync()
        return time.perf_counter() - start

    first = run(1)  # warm-up: page faults, allocator caches, cuDNN autotuning
    iterations = max(1, int(args.min_time / max(run(1) if cuda else first, 1e-6)))
    return 1e3 * statistics.median(run(iterations) / iterations for _ in range(blocks))


def model(depth, train):
    m = getattr(torchvision.models, f"resnet{depth}")().to(args.device, dtype)
    return m.train(train)


def emit(case, value):
    print(json.dumps({"case": case, "value": value, "unit": "ms"}), flush=True)


big = 64 if cuda else 8
p = f"/{args.precision}/"
for depth in (18, 50):
    for n in (1, big):
        m = model(depth, False)
        x = torch.randn(n, 3, 224, 224, device=args.device, dtype=dtype)

        def infer():
            with torch.no_grad():
                m(x)
        emit(f"resnet{depth}_infer{p}b{n}", ms_per_iteration(infer))

train_cases = [(18, 8)] + ([(50, big)] if cuda else [])
for depth, n in train_cases:
    m = model(depth, True)
    x = torch.randn(n, 3, 224, 224, device=args.device, dtype=dtype)
    sgd = torch.optim.SGD(m.parameters(), lr=1e-3)

    def step():
        sgd.zero_grad()
        logits = m(x)
        (logits * logits).mean().backward()
        sgd.step()
    emit(f"resnet{depth}_train{p}b{n}", ms_per_iteration(step))
sys.exit(0)
