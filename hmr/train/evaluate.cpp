// Dataset evaluation of HMR-family regressors (see evaluate.h).
#include "hmr/train/evaluate.h"

#include <chrono>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/geometry/camera.h"
#include "hmr/geometry/procrustes.h"
#include "hmr/geometry/rotations.h"
#include "hmr/render/raster.h"
#include "hmr/train/pipeline.h"
#include "hmr/train/spin_losses.h"
#include "io/image.h"
#include "tensor/error.h"

namespace hmr::train {
namespace {

constexpr double kPckThreshold = 0.150;  // metres (MPI-INF-3DHP's 150 mm)
constexpr int64_t kAucSteps = 31;        // 0, 5, ..., 150 mm

Tensor index_tensor(const std::array<int64_t, 17>& index, Device device) {
  return Tensor::from_vector(std::vector<int64_t>(index.begin(), index.end()), {17}).to(device);
}

double sum_of(const Tensor& t) { return t.defined() ? sum(t).item() : 0.0; }

// (V,) I64 SixPart label of each vertex: from the model's part labels, else from the joint that
// skins it most (which is how SMPL's part labels are defined).
Tensor six_part_of_vertex(const body::BodyModel& body) {
  const body::BodyModelData& d = body.data();
  Tensor smpl_part = d.part_labels.defined() ? d.part_labels : argmax(d.weights, 1);
  std::vector<int64_t> labels = smpl_part.to(Device::cpu(), DType::I64).contiguous().to_vector<int64_t>();
  for (int64_t& l : labels) {
    HMR_CHECK(l >= 0 && l < static_cast<int64_t>(kSmplPartToSix.size()), ValueError,
              "evaluate: segmentation needs SMPL's 24 body parts, found part label ", l);
    l = kSmplPartToSix[static_cast<size_t>(l)];
  }
  return Tensor::from_vector(labels, {static_cast<int64_t>(labels.size())});
}

// A GT image as an (H, W) I64 label map.
Tensor read_labels(const std::string& path) {
  Tensor img = io::read_image(path, 1);
  return img.select(2, 0).to(DType::I64).contiguous();
}

// GT part labels in SixPart terms (255 kept: ignored by the scores).
Tensor gt_six_parts(const std::string& path, PartLabels kind) {
  Tensor labels = read_labels(path);
  int64_t* p = labels.data<int64_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    const int64_t l = p[i];
    if (l == 0 || l == 255) continue;
    if (kind == PartLabels::Six) {
      HMR_CHECK(l <= 6, ValueError, "evaluate: ", path, " holds part label ", l,
                " but 6-part images hold 0..6 and 255 (pass the SMPL 24-part kind for 1 + SMPL part)");
      continue;
    }
    HMR_CHECK(l <= 24, ValueError, "evaluate: ", path, " holds part label ", l,
              " but SMPL part images hold 0, 1 + part (1..24) and 255");
    p[i] = kSmplPartToSix[static_cast<size_t>(l - 1)];
  }
  return labels;
}

}  // namespace

void check_protocol(const std::string& protocol) {
  HMR_CHECK(protocol == "lsp14" || protocol == "mpi17", ValueError, "evaluate: unknown protocol '", protocol,
            "' (known: lsp14, mpi17)");
}

PoseErrors pose_errors(const body::BodyModel& body, const body::BodyOutput& pred, const Tensor& gt_pose_3d,
                       const std::string& protocol) {
  check_protocol(protocol);
  HMR_CHECK(gt_pose_3d.dim() == 3 && gt_pose_3d.size(1) == 24 && gt_pose_3d.size(2) == 4, ShapeError,
            "pose_errors: expected GT joints (B, 24, 4), got ", gt_pose_3d.shape_str());
  Tensor g = narrow(gt_pose_3d, 2, 0, 3).to(pred.vertices.device(), DType::F64);
  PoseErrors e;
  Tensor p;
  if (protocol == "lsp14") {
    p = metrics::root_relative(body.lsp_joints14(pred).to(DType::F64), {2, 3});
    g = metrics::root_relative(narrow(g, 1, 0, 14), {2, 3});
  } else {
    p = index_select(body.h36m_joints17(pred), 1, index_tensor(kH36mToJ17, g.device())).to(DType::F64);
    g = index_select(g, 1, index_tensor(kJ24ToJ17, g.device()));
    p = metrics::root_relative(p, {kJ17Pelvis});
    g = metrics::root_relative(g, {kJ17Pelvis});
  }
  Tensor aligned = geometry::procrustes_align(p, g);
  e.mpjpe = metrics::mpjpe(p, g) * 1000.0;
  e.pa_mpjpe = metrics::mpjpe(aligned, g) * 1000.0;
  if (protocol == "mpi17") {
    e.pck = metrics::pck(p, g, kPckThreshold);
    e.auc = metrics::auc(p, g, kPckThreshold, kAucSteps);
    e.pa_pck = metrics::pck(aligned, g, kPckThreshold);
    e.pa_auc = metrics::auc(aligned, g, kPckThreshold, kAucSteps);
  }
  return e;
}

render::Camera crop_camera_in_image(double center_x, double center_y, double scale, int64_t height,
                                    int64_t width) {
  render::Camera cam;
  cam.fx = cam.fy = kFocalLength * (200.0 * scale) / kCropSize;
  cam.cx = center_x;
  cam.cy = center_y;
  cam.height = height;
  cam.width = width;
  return cam;
}

MetricAccumulator::MetricAccumulator(const body::BodyModel& body, EvalOptions options)
    : body_(body), options_(std::move(options)) {
  check_protocol(options_.protocol);
  if (options_.segmentation) six_part_of_vertex_ = six_part_of_vertex(body);
}

void MetricAccumulator::add(const data::Batch& batch, int64_t rows, const body::BodyOutput& pred,
                            const Tensor& cam_t) {
  HMR_CHECK(rows >= 0 && rows <= batch.size() && pred.vertices.size(0) == rows, ShapeError,
            "MetricAccumulator::add: ", rows, " rows of a batch of ", batch.size(), " but predicted meshes ",
            pred.vertices.shape_str());
  if (rows == 0) return;
  // Pose: rows with 3D joints.
  Tensor has3d = narrow(batch.has_pose_3d, 0, 0, rows).to(pred.vertices.device());
  Tensor gt = select_rows(narrow(batch.pose_3d, 0, 0, rows).to(pred.vertices.device()), has3d);
  if (gt.defined()) {
    body::BodyOutput sel;
    sel.vertices = select_rows(pred.vertices, has3d);
    PoseErrors e = pose_errors(body_, sel, gt, options_.protocol);
    const Tensor* parts[6] = {&e.mpjpe, &e.pa_mpjpe, &e.pck, &e.auc, &e.pa_pck, &e.pa_auc};
    for (int k = 0; k < 6; ++k) sums_[k] += sum_of(*parts[k]);
    samples_ += gt.size(0);
  }
  // Shape: rows with GT SMPL, vertices of the GT pose and shape through the same body.
  Tensor has_smpl = narrow(batch.has_smpl, 0, 0, rows).to(pred.vertices.device());
  Tensor gt_pose = select_rows(narrow(batch.pose, 0, 0, rows).to(pred.vertices.device()), has_smpl);
  if (gt_pose.defined()) {
    Tensor gt_betas = select_rows(narrow(batch.betas, 0, 0, rows).to(pred.vertices.device()), has_smpl);
    Tensor gt_vertices = body_.forward(gt_betas, gt_pose).vertices.to(DType::F64);
    Tensor pred_vertices = select_rows(pred.vertices, has_smpl).to(DType::F64);
    pve_sum_ += sum(metrics::pve(pred_vertices, gt_vertices)).item() * 1000.0;
    shape_samples_ += gt_pose.size(0);
  }
  if (!options_.segmentation) return;
  const std::vector<int64_t> row = batch.sample_index.to(Device::cpu()).to_vector<int64_t>();
  const std::vector<int64_t> dataset = batch.dataset_index.to(Device::cpu()).to_vector<int64_t>();
  const std::vector<double> center = batch.center.to(Device::cpu(), DType::F64).to_vector<double>();
  const std::vector<double> scale = batch.scale.to(Device::cpu(), DType::F64).to_vector<double>();
  Tensor vertices = pred.vertices + unsqueeze(cam_t.to(pred.vertices.device(), pred.vertices.dtype()), 1);
  for (int64_t i = 0; i < rows; ++i) {
    const auto r = static_cast<size_t>(row[static_cast<size_t>(i)]);
    HMR_CHECK(dataset[static_cast<size_t>(i)] == 0, ValueError,
              "evaluate: segmentation ground truth is given for one dataset, but sample ", i,
              " comes from dataset ", dataset[static_cast<size_t>(i)]);
    const std::string mask = r < options_.mask_paths.size() ? options_.mask_paths[r] : "";
    const std::string part = r < options_.part_paths.size() ? options_.part_paths[r] : "";
    const auto c = static_cast<size_t>(i);
    add_segmentation(select(vertices, 0, i),
                     crop_camera_in_image(center[2 * c], center[2 * c + 1], scale[c], 0, 0), mask, part);
  }
}

void MetricAccumulator::add_segmentation(const Tensor& vertices, render::Camera camera,
                                         const std::string& mask_path, const std::string& part_path) {
  if (mask_path.empty() && part_path.empty()) return;
  HMR_CHECK(six_part_of_vertex_.defined(), ValueError,
            "MetricAccumulator::add_segmentation: the accumulator was made without segmentation");
  Tensor gt_mask = mask_path.empty() ? Tensor() : gt(read_labels(mask_path), int64_t{0}).to(DType::I64);
  Tensor gt_parts = part_path.empty() ? Tensor() : gt_six_parts(part_path, options_.part_labels);
  const Tensor& any = gt_mask.defined() ? gt_mask : gt_parts;
  camera.height = any.size(0);
  camera.width = any.size(1);
  HMR_CHECK(!gt_mask.defined() || !gt_parts.defined() || gt_mask.sizes() == gt_parts.sizes(), ShapeError,
            "evaluate: mask ", mask_path, " is ", gt_mask.shape_str(), " but part image ", part_path, " is ",
            gt_parts.shape_str());
  // Rendered on the vertices' device, scored on the host (the scores are integer counts).
  const Tensor& faces = body_.faces();
  render::Raster raster = render::rasterize(unsqueeze(vertices, 0), faces, camera);
  if (gt_mask.defined()) fb_.add(select(raster.mask, 0, 0).to(Device::cpu(), DType::I64), gt_mask);
  if (gt_parts.defined()) {
    Tensor labels = six_part_of_vertex_.to(vertices.device());
    Tensor pred_parts =
        render::part_segmentation(raster, faces, labels, render::LabelRule::Majority, kBackground);
    parts_.add(select(pred_parts, 0, 0).to(Device::cpu()), gt_parts);
  }
  ++segmentation_samples_;
}

EvalResult MetricAccumulator::result() const {
  EvalResult r;
  r.samples = samples_;
  if (samples_ > 0) {
    const double n = static_cast<double>(samples_);
    r.mpjpe = sums_[0] / n;
    r.pa_mpjpe = sums_[1] / n;
    if (options_.protocol == "mpi17") {
      r.pck = sums_[2] / n;
      r.auc = sums_[3] / n;
      r.pa_pck = sums_[4] / n;
      r.pa_auc = sums_[5] / n;
    }
  }
  r.shape_samples = shape_samples_;
  if (shape_samples_ > 0) r.pve = pve_sum_ / static_cast<double>(shape_samples_);
  r.segmentation_samples = segmentation_samples_;
  r.fb_accuracy = fb_.accuracy();
  r.fb_f1 = fb_.mean_f1();
  r.parts_accuracy = parts_.accuracy();
  r.parts_f1 = parts_.mean_f1();
  return r;
}

EvalResult evaluate(models::HMRRegressor& model, const body::BodyModel& body,
                    std::shared_ptr<const data::SampleSource> source, const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  check_protocol(options.protocol);
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
  MetricAccumulator metrics(body, options);
  EvalOptions baseline_options = options;  // the baseline reports pose errors only
  baseline_options.segmentation = false;
  MetricAccumulator baseline(body, baseline_options);
  int64_t seen = 0;
  while (seen < total) {
    std::optional<data::Batch> batch = loader.next();
    if (!batch) break;
    data::Batch b = batch->to(options.device);
    const int64_t n = std::min<int64_t>(b.size(), total - seen);
    seen += n;
    if (options.progress) options.progress(seen, total);
    // Rows the metrics read: with 3D joints, GT SMPL, or (segmentation) any row.
    const bool needed =
        options.segmentation || sum(narrow(b.has_pose_3d, 0, 0, n) + narrow(b.has_smpl, 0, 0, n)).item() > 0;
    if (!needed) continue;
    models::HMROutput out = model.forward_full(narrow(b.img, 0, 0, n));
    Tensor cam_t = geometry::weak_perspective_to_translation(out.cam, kFocalLength, kCropSize);
    metrics.add(b, n, body.forward(out.betas, out.rotmat), cam_t);
    // The mean-pose baseline: the regressor's starting point, the same for every image.
    Tensor mean_rot = geometry::rot6d_to_matrix(reshape(model.init_pose, {1, -1, 6}));
    Tensor base_rot = expand(mean_rot, {n, mean_rot.size(1), 3, 3});
    Tensor base_betas = expand(model.init_shape, {n, model.init_shape.size(1)});
    baseline.add(b, n, body.forward(base_betas, base_rot), cam_t);
  }
  model.train(was_training);
  EvalResult r = metrics.result();
  HMR_CHECK(r.samples > 0 || r.segmentation_samples > 0, ValueError,
            "evaluate: the dataset has no sample with 3D joints (has_pose_3d), so ",
            "MPJPE cannot be computed", options.segmentation ? ", nor a mask or part image" : "");
  const EvalResult base = baseline.result();
  r.baseline_mpjpe = base.mpjpe;
  r.baseline_pa_mpjpe = base.pa_mpjpe;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace hmr::train
