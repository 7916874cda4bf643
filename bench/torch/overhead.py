# PyTorch twin of bench/overhead.cpp: `a + b` on 1 and 16 f32 elements, time per op
# (including the Python interpreter, which is how PyTorch users pay for an op).
from common import emit, seconds_per_op, setup

import torch

args = setup(__doc__)
for n in (1, 16):
    a = torch.rand(n, device=args.device)
    b = torch.rand(n, device=args.device)
    t = seconds_per_op(lambda: a + b, args.device, args.min_time)
    emit(f"tiny_add/f32/{n}", t * 1e9, "ns")
