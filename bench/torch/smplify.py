# PyTorch twin of bench/smplify.cpp: SPIN's SMPLify step (SMPL forward + 49 joints, perspective
# projection, Geman-McClure reprojection, max-mixture GMM, angle and shape priors, Adam) in
# plain PyTorch on a random SMPL-sized model; ms per run of 5 camera + 5 body steps.
import math

import torch

from body import J, V, forward, ms_per_iteration, random_model
from common import emit, setup

STEPS = 10
OP_TORSO, GT_TORSO = [9, 12, 2, 5], [27, 28, 33, 34]
IGNORED = [1, 9, 12, 27, 28]


def random_prior(device):
    g = torch.Generator().manual_seed(2)
    means = 0.2 * torch.randn(8, 69, generator=g, dtype=torch.float64)
    a = torch.randn(8, 69, 69, generator=g, dtype=torch.float64) * (0.2 / 8.3)
    covars = a @ a.transpose(1, 2) + 0.01 * torch.eye(69, dtype=torch.float64)
    sqrt_det = torch.linalg.det(covars).sqrt()
    log_c = math.log(1 / 8) - 69 / 2 * math.log(2 * math.pi) - torch.log(sqrt_det / sqrt_det.min())
    return [t.float().to(device) for t in (means, torch.inverse(covars), log_c)]


def gmm_energy(prior, pose):
    means, precisions, log_c = prior
    diff = pose[:, None] - means
    quad = (torch.einsum("mij,bmj->bmi", precisions, diff) * diff).sum(-1)
    return (0.5 * quad - log_c).min(dim=1).values


def project(joints, cam_t):
    p = joints + cam_t[:, None]
    return 5000.0 * p[..., :2] / p[..., 2:] + 112.0


def smplify(m, regressor49, prior, pose0, betas0, cam_t0, kp, half):
    def joints49(go, bp, betas):
        vertices, _ = forward(m, betas, torch.cat([go, bp], 1))
        return torch.einsum("jv,bvk->bjk", regressor49, vertices)

    go, bp = pose0[:, :3].clone().requires_grad_(), pose0[:, 3:].clone()
    betas, cam_t = betas0.clone(), cam_t0.clone().requires_grad_()
    opt = torch.optim.Adam([go, cam_t], lr=1e-2)
    valid = (kp[:, OP_TORSO, 2].min(1).values > 0).float()[:, None, None]
    for _ in range(half):
        proj = joints49(go, bp, betas)
        proj = project(proj, cam_t)
        e = valid * (kp[:, OP_TORSO, :2] - proj[:, OP_TORSO]) ** 2 + (1 - valid) * (kp[:, GT_TORSO, :2] - proj[:, GT_TORSO]) ** 2
        loss = (e.sum((1, 2)) + 100.0 ** 2 * (cam_t[:, 2] - cam_t0[:, 2]) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    cam_t = cam_t.detach()
    conf = kp[..., 2].clone()
    conf[:, IGNORED] = 0
    bp.requires_grad_()
    betas.requires_grad_()
    opt = torch.optim.Adam([bp, betas, go], lr=1e-2)
    signs = torch.tensor([1.0, -1.0, -1.0, -1.0], device=kp.device)
    for _ in range(half):
        r = project(joints49(go, bp, betas), cam_t) - kp[..., :2]
        rho = 100.0 ** 2 * r ** 2 / (100.0 ** 2 + r ** 2)
        loss = ((conf ** 2 * rho.sum(-1)).sum(-1) + 4.78 ** 2 * gmm_energy(prior, bp)
                + 15.2 ** 2 * (torch.exp(bp[:, [52, 55, 9, 12]] * signs) ** 2).sum(-1)
                + 5.0 ** 2 * (betas ** 2).sum(-1)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()


def main():
    args = setup(__doc__)
    m = random_model(args.device, False)
    g = torch.Generator().manual_seed(3)
    reg = torch.rand(49, V, generator=g)
    regressor49 = (reg / reg.sum(1, keepdim=True)).to(args.device)
    prior = random_prior(args.device)
    for batch in (1, 64):
        pose = 0.2 * torch.randn(batch, J * 3, generator=g)
        pose[:, 0] += math.pi
        kp = torch.cat([224 * torch.rand(batch, 49, 2, generator=g), torch.rand(batch, 49, 1, generator=g)], 2)
        inputs = [t.to(args.device) for t in (pose, torch.zeros(batch, 10), torch.tensor([[0.0, 0.2, 50.0]]).expand(batch, 3), kp)]
        emit("smplify_10steps/b%d" % batch,
             ms_per_iteration(lambda: smplify(m, regressor49, prior, *inputs, STEPS // 2), args.device, args.min_time),
             "ms")


if __name__ == "__main__":
    main()
