# PyTorch twin of bench/reduce.cpp: sum of all elements and sum over the last dim of (n/1024, 1024).
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
