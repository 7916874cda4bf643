# PyTorch twin of bench/reduce.cpp: sum of all elements and sum over the last dim of (n/1024, 1024);
# at 2^24 also (n/16, 16) summed over dim 1 and over dim 0.
from common import STREAM_SIZES, emit, seconds_per_op, setup

import torch

args = setup(__doc__)
for n in STREAM_SIZES:
    x = torch.rand(n, device=args.device)
    t = seconds_per_op(lambda: x.sum(), args.device, args.min_time)
    emit(f"sum_all/f32/{n}", n * 4 / t / 1e9, "GB/s")
    m = x.view(n // 1024, 1024)
    t = seconds_per_op(lambda: m.sum(-1), args.device, args.min_time)
    emit(f"sum_lastdim/f32/{n}", n * 4 / t / 1e9, "GB/s")

n = STREAM_SIZES[-1]
m = torch.rand(n // 16, 16, device=args.device)
for name, dim in [("sum_rows16", 1), ("sum_dim0_16", 0)]:
    t = seconds_per_op(lambda: m.sum(dim), args.device, args.min_time)
    emit(f"{name}/f32/{n}", n * 4 / t / 1e9, "GB/s")
