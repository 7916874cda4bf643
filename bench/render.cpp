// Renderer benchmarks: z-buffered rasterization of 64 meshes of SMPL's size (a UV sphere of
// 82 x 84 + 2 = 6890 vertices, 13776 faces) at 224 x 224, and the soft silhouette forward and
// forward+backward at batch 8. No PyTorch twin: plain torch has no rasterizer (PyTorch3D's is a
// separate CUDA extension), so these figures stand alone.
#include "bench/common.h"
#include "hmr/render/primitives.h"
#include "hmr/render/raster.h"
#include "hmr/render/soft_silhouette.h"

namespace hmr::bench {
namespace {

// A focal length of 134 px; the spheres (radius 0.9) sit at depths of about 9 to 9.4, so each
// covers a disk about 27 pixels across (small faces, as a person in a wide view), jittered so
// that no two images are the same.
const render::Camera kCamera{5000.0 / 112 * 3, 5000.0 / 112 * 3, 112, 112, 224, 224};

struct Scene {
  Tensor vertices, faces;
};

Scene spheres(int64_t batch) {
  render::TriangleMesh ball = render::uv_sphere(82, 84, 0.9);
  Generator gen(3);
  Tensor shift = rand({batch, 1, 3}, DType::F64, &gen) * 0.4 + tensor({-0.2, -0.2, 9.0}, {3}, DType::F64);
  Tensor v = (unsqueeze(ball.vertices, 0) + shift).to(bench_device(), DType::F32);
  return {contiguous(v), ball.faces.to(bench_device())};
}

void rasterize_case(benchmark::State& state, int64_t meshes) {
  Scene s = spheres(meshes);
  timed_loop(state, [&] { benchmark::DoNotOptimize(render::rasterize(s.vertices, s.faces, kCamera).face); });
  state.SetItemsProcessed(state.iterations() * batch() * meshes);  // meshes
}

void soft_case(benchmark::State& state, int64_t meshes, bool backward) {
  Scene s = spheres(meshes);
  Tensor v = s.vertices.detach().requires_grad_(backward);
  timed_loop(state, [&] {
    Tensor prob = render::soft_silhouette(v, s.faces, kCamera, 1.0);
    if (backward) sum(prob).backward();
    benchmark::DoNotOptimize(prob);
  });
  state.SetItemsProcessed(state.iterations() * batch() * meshes);
}

void register_cases() {
  benchmark::RegisterBenchmark("rasterize/f32/64x6890v/224", rasterize_case, 64)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("soft_silhouette_fwd/f32/8x6890v/224", soft_case, 8, false)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("soft_silhouette_fwd_bwd/f32/8x6890v/224", soft_case, 8, true)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
