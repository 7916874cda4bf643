# PyTorch twin of bench/gemm.cpp: square f32 torch.matmul, in GFLOP/s (2 n^3 per product).
from common import emit, seconds_per_op, setup

import torch

args = setup(__doc__)
for n in (512, 1024, 2048):
    a = torch.randn(n, n, device=args.device)
    b = torch.randn(n, n, device=args.device)
    t = seconds_per_op(lambda: torch.matmul(a, b), args.device, args.min_time)
    emit(f"gemm/f32/{n}", 2 * n**3 / t / 1e9, "GFLOP/s")
