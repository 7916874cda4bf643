# PyTorch twin of bench/elementwise.cpp: add, mul, exp on f32 into a preallocated output;
# uniform_ and normal_ filling a 2^24 f32 tensor.
from common import STREAM_SIZES, emit, seconds_per_op, setup

import torch

args = setup(__doc__)
for n in STREAM_SIZES:
    a = torch.rand(n, device=args.device)
    b = torch.rand(n, device=args.device)
    out = torch.empty(n, device=args.device)
    cases = [("add", lambda: torch.add(a, b, out=out), 3),
             ("mul", lambda: torch.mul(a, b, out=out), 3),
             ("exp", lambda: torch.exp(a, out=out), 2)]
    for name, op, tensors in cases:
        t = seconds_per_op(op, args.device, args.min_time)
        emit(f"{name}/f32/{n}", tensors * n * 4 / t / 1e9, "GB/s")

n = STREAM_SIZES[-1]
out = torch.empty(n, device=args.device)
for name, op in [("uniform_", lambda: out.uniform_()), ("normal_", lambda: out.normal_())]:
    t = seconds_per_op(op, args.device, args.min_time)
    emit(f"{name}/f32/{n}", n * 4 / t / 1e9, "GB/s")
