# PyTorch twin of bench/body.cpp: an SMPL-style forward written in plain PyTorch from the
# model's equations (shape blend, joint regression, Rodrigues, pose blend, per-joint 4x4 chain,
# per-vertex blended 4x4 skinning), forward + backward to pose and betas, in ms per iteration.
import statistics
import time

import torch

from common import emit, setup

V, J, S = 6890, 24, 10
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def random_model(device, dense):
    g = torch.Generator().manual_seed(0)
    m = {
        "v_template": torch.randn(V, 3, generator=g),
        "shapedirs": 0.03 * torch.randn(S, V * 3, generator=g),
        "posedirs": 0.01 * torch.randn(9 * (J - 1), V * 3, generator=g),
    }
    reg = torch.rand(J, V, generator=g)
    m["J_regressor"] = reg / reg.sum(1, keepdim=True)
    w = torch.rand(V, J, generator=g) + 0.01
    if not dense:  # each vertex's 4 largest weights, as SMPL's skinning weights
        w = w * (w >= w.topk(4, dim=1).values[:, 3:]).to(w.dtype)
    m["weights"] = w / w.sum(1, keepdim=True)
    return {k: v.to(device) for k, v in m.items()}


def rodrigues(axis_angle):  # (N, 3) -> (N, 3, 3)
    angle = axis_angle.norm(dim=1, keepdim=True).clamp_min(1e-8)
    k = axis_angle / angle
    zero = torch.zeros_like(k[:, 0])
    K = torch.stack([zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero], 1).view(-1, 3, 3)
    eye = torch.eye(3, dtype=k.dtype, device=k.device)
    s, c = torch.sin(angle).unsqueeze(-1), torch.cos(angle).unsqueeze(-1)
    return eye + s * K + (1 - c) * (K @ K)


def forward(m, betas, pose):
    B = betas.shape[0]
    v_shaped = m["v_template"] + (betas @ m["shapedirs"]).view(B, V, 3)
    rest = torch.einsum("jv,bvk->bjk", m["J_regressor"], v_shaped)
    R = rodrigues(pose.reshape(-1, 3)).view(B, J, 3, 3)
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    v_posed = v_shaped + ((R[:, 1:] - eye).reshape(B, -1) @ m["posedirs"]).view(B, V, 3)
    offsets = torch.cat([rest[:, :1], rest[:, 1:] - rest[:, PARENTS[1:]]], 1)
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=R.dtype, device=R.device).expand(B, J, 1, 4)
    local = torch.cat([torch.cat([R, offsets.unsqueeze(-1)], -1), bottom], 2)  # (B, J, 4, 4)
    chain = [local[:, 0]]
    for j in range(1, J):
        chain.append(chain[PARENTS[j]] @ local[:, j])
    G = torch.stack(chain, 1)
    rest_h = torch.cat([rest, torch.zeros_like(rest[..., :1])], -1).unsqueeze(-1)
    A = G - torch.nn.functional.pad(G @ rest_h, [3, 0])
    T = (m["weights"] @ A.view(B, J, 16)).view(B, V, 4, 4)
    vertices = (T[..., :3, :3] @ v_posed.unsqueeze(-1)).squeeze(-1) + T[..., :3, 3]
    return vertices, G[:, :, :3, 3]


def ms_per_iteration(op, device, min_time, blocks=3):
    """Median over blocks of the time per call, one call per iteration and a synchronize after
    each (as bench/body.cpp: a call takes milliseconds, so no batching is needed on CUDA)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(iterations):
        start = time.perf_counter()
        for _ in range(iterations):
            op()
            sync()
        return time.perf_counter() - start

    run(1)  # warm-up: page faults, allocator caches
    iterations = max(1, int(min_time / max(run(1), 1e-6)))
    return 1e3 * statistics.median(run(iterations) / iterations for _ in range(blocks))


def main():
    args = setup(__doc__)

    for name, batch, dense in (("body_fwd_bwd/b64", 64, False), ("body_fwd_bwd/b1024", 1024, False),
                               ("body_fwd_bwd_dense/b64", 64, True)):
        m = random_model(args.device, dense)
        g = torch.Generator().manual_seed(1)
        betas = torch.randn(batch, S, generator=g).to(args.device).requires_grad_()
        pose = (0.3 * torch.randn(batch, J * 3, generator=g)).to(args.device).requires_grad_()

        def step():
            vertices, joints = forward(m, betas, pose)
            (vertices.square().sum() + joints.square().sum()).backward()
            betas.grad = None
            pose.grad = None

        emit(name, ms_per_iteration(step, args.device, args.min_time), "ms")


if __name__ == "__main__":
    main()
