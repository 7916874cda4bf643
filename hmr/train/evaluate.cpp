// Dataset evaluation of HMR-family regressors (see evaluate.h).
#include "hmr/train/evaluate.h"

#include <chrono>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/data/loader.h"
#include "hmr/geometry/rotations.h"
#include "hmr/metrics/metrics.h"
#include "hmr/train/spin_losses.h"
#include "tensor/error.h"

namespace hmr::train {

std::pair<Tensor, Tensor> lsp14_errors(const body::BodyModel& body, const body::BodyOutput& pred,
                                       const Tensor& gt_pose_3d) {
  HMR_CHECK(gt_pose_3d.dim() == 3 && gt_pose_3d.size(1) == 24 && gt_pose_3d.size(2) == 4, ShapeError,
            "lsp14_errors: expected GT joints (B, 24, 4), got ", gt_pose_3d.shape_str());
  Tensor p = body.lsp_joints14(pred).to(DType::F64);
  Tensor g = narrow(narrow(gt_pose_3d, 1, 0, 14), 2, 0, 3).to(p.device(), DType::F64);
  p = metrics::root_relative(p, {2, 3});
  g = metrics::root_relative(g, {2, 3});
  return {metrics::mpjpe(p, g) * 1000.0, metrics::pa_mpjpe(p, g) * 1000.0};
}

EvalResult evaluate(models::HMRRegressor& model, const body::BodyModel& body,
                    std::shared_ptr<const data::SampleSource> source, const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  data::LoaderOptions lo;
  lo.batch_size = options.batch_size;
  lo.num_workers = options.num_workers;
  lo.shuffle = false;
  lo.drop_last = false;
  data::DataLoader loader(source, lo);
  loader.start_epoch(0);
  const int64_t total =
      options.max_samples > 0 ? std::min(options.max_samples, source->size()) : source->size();

  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult r;
  double sum_mpjpe = 0, sum_pa = 0, sum_base = 0, sum_base_pa = 0;
  int64_t seen = 0;
  Tensor baseline_errors[2];
  while (seen < total) {
    std::optional<data::Batch> batch = loader.next();
    if (!batch) break;
    data::Batch b = batch->to(options.device);
    int64_t n = std::min<int64_t>(b.size(), total - seen);
    Tensor has3d = narrow(b.has_pose_3d, 0, 0, n);
    Tensor img = narrow(b.img, 0, 0, n), gt = narrow(b.pose_3d, 0, 0, n);
    seen += n;
    if (options.progress) options.progress(seen, total);
    Tensor gt_sel = select_rows(gt, has3d);
    if (!gt_sel.defined()) continue;
    models::HMROutput out = model.forward_full(select_rows(img, has3d));
    auto [e, pa] = lsp14_errors(body, body.forward(out.betas, out.rotmat), gt_sel);
    // The mean-pose baseline: the regressor's starting point, the same for every image.
    const int64_t k = gt_sel.size(0);
    Tensor mean_rot = geometry::rot6d_to_matrix(reshape(model.init_pose, {1, -1, 6}));
    Tensor base_rot = expand(mean_rot, {k, mean_rot.size(1), 3, 3});
    Tensor base_betas = expand(model.init_shape, {k, model.init_shape.size(1)});
    auto [be, bpa] = lsp14_errors(body, body.forward(base_betas, base_rot), gt_sel);
    sum_mpjpe += sum(e).item();
    sum_pa += sum(pa).item();
    sum_base += sum(be).item();
    sum_base_pa += sum(bpa).item();
    r.samples += k;
  }
  model.train(was_training);
  HMR_CHECK(r.samples > 0, ValueError,
            "evaluate: the dataset has no sample with 3D joints (has_pose_3d), so ",
            "MPJPE cannot be computed");
  const double n = static_cast<double>(r.samples);
  r.mpjpe = sum_mpjpe / n;
  r.pa_mpjpe = sum_pa / n;
  r.baseline_mpjpe = sum_base / n;
  r.baseline_pa_mpjpe = sum_base_pa / n;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace hmr::train
