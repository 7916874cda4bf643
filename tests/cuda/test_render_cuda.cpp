// hmr/render on CUDA against its CPU twin: rasterization (several meshes per image, image sizes
// that are not multiples of the 16-pixel tile), interpolation, labels, and the soft silhouette
// forward and backward, on noisy spheres. Skips without a GPU.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "hmr/render/primitives.h"
#include "hmr/render/raster.h"
#include "hmr/render/soft_silhouette.h"
#include "tensor/cuda_context.h"

using namespace hmr;
using namespace hmr::render;

namespace {

const Camera kCamera{70.0, 66.0, 27.1, 17.9, 37, 53};

// Three noisy spheres at different places and depths, as (3, V, 3) in dtype.
Tensor noisy_spheres(const TriangleMesh& ball, DType dtype) {
  Generator gen(7);
  Tensor offsets = tensor({-0.3, 0.1, 3.0, 0.4, -0.2, 3.5, 0.0, 0.0, 2.6}, {3, 1, 3}, DType::F64);
  Tensor noise = randn({3, ball.vertices.size(0), 3}, DType::F64, &gen) * 0.03;
  return (unsqueeze(ball.vertices, 0) + noise + offsets).to(dtype);
}

// Fraction of pixels where two integer maps differ (edge pixels may flip when a pixel centre sits
// within rounding of an edge, as the two compilers contract multiply-adds differently).
double mismatch(const Tensor& a, const Tensor& b) {
  return sum(ne(a.cpu(), b).to(DType::F64)).item() / double(a.numel());
}

}  // namespace

TEST(CudaRender, RasterizeMatchesCpu) {
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason();
  TriangleMesh ball = uv_sphere(9, 13, 0.6);
  for (DType dtype : {DType::F32, DType::F64}) {
    Tensor v = noisy_spheres(ball, dtype);
    Tensor image = tensor({0, 1, 0}, {3}, DType::I64);
    Raster cpu = rasterize(v, ball.faces, kCamera, image, 2);
    Raster gpu = rasterize(v.cuda(), ball.faces.cuda(), kCamera, image, 2);
    EXPECT_TRUE(gpu.face.is_cuda());
    EXPECT_LT(mismatch(gpu.face, cpu.face), 2e-3);
    EXPECT_LT(mismatch(gpu.instance, cpu.instance), 2e-3);
    Tensor same = logical_and(eq(gpu.face.cpu(), cpu.face), eq(gpu.instance.cpu(), cpu.instance));
    Tensor db = where(unsqueeze(same, -1), gpu.bary.cpu() - cpu.bary, 0.0);
    EXPECT_LT(amax(abs(db)).item(), dtype == DType::F32 ? 1e-4 : 1e-10);
    Tensor dz = where(same, gpu.depth.cpu() - cpu.depth, 0.0);
    EXPECT_LT(amax(abs(dz)).item(), dtype == DType::F32 ? 1e-5 : 1e-12);

    Tensor attr = rand({3, ball.vertices.size(0), 5}, dtype);
    Tensor ia = interpolate(cpu, ball.faces, attr), ib = interpolate(gpu, ball.faces.cuda(), attr.cuda());
    EXPECT_LT(amax(abs(where(unsqueeze(same, -1), ib.cpu() - ia, 0.0))).item(), 1e-5);
    Tensor labels = randint(0, 24, {ball.vertices.size(0)});
    Tensor la = part_segmentation(cpu, ball.faces, labels), lb = part_segmentation(gpu, ball.faces, labels.cuda());
    EXPECT_LT(mismatch(lb, la), 2e-3);
  }
}

TEST(CudaRender, SoftSilhouetteForwardAndBackwardMatchCpu) {
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason();
  TriangleMesh ball = uv_sphere(7, 11, 0.5);
  for (DType dtype : {DType::F32, DType::F64}) {
    Tensor v = noisy_spheres(ball, dtype);
    Tensor w = rand({3, kCamera.height, kCamera.width}, dtype);
    Tensor vc = v.detach().clone().requires_grad_(), vg = v.cuda().detach().requires_grad_();
    Tensor a = soft_silhouette(vc, ball.faces, kCamera, 1.3);
    Tensor b = soft_silhouette(vg, ball.faces.cuda(), kCamera, 1.3);
    const double tol = dtype == DType::F32 ? 2e-5 : 1e-12;
    EXPECT_LT(amax(abs(b.cpu() - a)).item(), tol);
    sum(a * w).backward();
    sum(b * w.cuda()).backward();
    Tensor ga = vc.grad(), gb = vg.grad().cpu();
    EXPECT_LT(amax(abs(gb - ga)).item(), tol * 50 * (1 + amax(abs(ga)).item()));
  }
}
