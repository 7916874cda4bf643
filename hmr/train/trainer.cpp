// SPIN / HMR training loop (see trainer.h). The step follows SPIN's trainer.train_step:
// targets from the fits dictionary (SPIN) or the ground truth only (HMR), the regressor, the
// in-loop SMPLify whose fit replaces the stored one when its reprojection score is lower, then
// the weighted loss terms and an Adam step.
#include "hmr/train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/body/generate.h"
#include "hmr/data/pose_sampler.h"
#include "hmr/geometry/camera.h"
#include "hmr/geometry/rotations.h"
#include "hmr/train/checkpoint.h"
#include "hmr/train/pipeline.h"
#include "hmr/train/spin_losses.h"
#include "io/file.h"
#include "io/json.h"
#include "nn/clip_grad.h"
#include "tensor/cuda_context.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

namespace hmr::train {

namespace fs = std::filesystem;

namespace {

Device pick_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  const bool have_cuda = cuda::device_count() > 0;
  HMR_CHECK(name != "cuda" || have_cuda, DeviceError, "train: device \"cuda\" requested but ",
            cuda::unavailable_reason());
  return have_cuda ? Device::cuda(0) : Device::cpu();
}

std::shared_ptr<const data::Dataset> open_dataset(const DatasetSpec& spec, int64_t res, bool train_mode,
                                                  uint64_t seed) {
  HMR_CHECK(fs::exists(spec.npz), IOError, "dataset '", spec.name, "': annotation file ", spec.npz,
            " does not exist (make one with `hmr data synth --out DIR`)");
  const std::string root =
      spec.image_root.empty() ? fs::path(spec.npz).parent_path().string() : spec.image_root;
  data::DatasetOptions o;
  o.res = res;
  o.train = train_mode;
  o.seed = seed;
  return std::make_shared<data::Dataset>(spec.name, data::load_dataset_npz(spec.npz, root, true), root, o);
}

// A GMM pose prior for bodies without SMPLify's gmm_08.pkl: EM on poses from the sampler the
// synthetic data uses (the same construction as `hmr prior fit-gmm`).
fitting::Gmm synthetic_gmm(uint64_t seed) {
  data::PoseSampler sampler(seed);
  const int64_t n = 4000;
  std::vector<double> poses;
  poses.reserve(static_cast<size_t>(n * 69));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> p = sampler.sample_pose(sampler.sample_family());
    poses.insert(poses.end(), p.begin() + 3, p.end());
  }
  return fitting::fit_gmm_em(Tensor::from_vector(poses, {n, 69}), 8, 30, seed).gmm;
}

double host(const Tensor& t) { return t.detach().to(Device::cpu(), DType::F64).item(); }

const char* kLogHeader =
    "step,epoch,loss,keypoint_2d,keypoint_3d,pose,betas,vertices,camera,fit_valid,fits_updated,grad_norm,seconds\n";

}  // namespace

Trainer::Trainer(TrainConfig config, std::string out_dir, std::ostream& log)
    : config_(std::move(config)), out_dir_(std::move(out_dir)), log_(log) {
  config_.validate();
  if (config_.threads > 0) set_num_threads(static_cast<int>(config_.threads));
  device_ = pick_device(config_.device);
  fs::create_directories(out_dir_);
  io::write_file_atomic((fs::path(out_dir_) / "config.json").string(),
                        io::to_json(train_config_to_json(config_), 2));

  // Body model and regressor.
  body::BodyModelData body_data = body::resolve_body_model(config_.body_model);
  body_ = std::make_unique<body::BodyModel>(body_data);
  body_->to(device_);
  models::HMRRegressorOptions mo;
  mo.backbone_depth = config_.backbone;
  manual_seed(config_.seed);  // weight initialisation and dropout
  model_ = std::make_shared<models::HMRRegressor>(mo, body_data);
  if (!config_.init_checkpoint.empty()) {
    const std::string& p = config_.init_checkpoint;
    if (p.size() > 12 && p.substr(p.size() - 12) == ".safetensors") {
      TrainingState s;
      s.model = model_.get();
      load_checkpoint(p, s);
    } else {
      models::load_spin_checkpoint(*model_, p);
    }
    log_ << "initialised the regressor from " << p << "\n";
  }
  model_->to(device_);
  model_->train();
  optim::AdamOptions ao;
  ao.lr = config_.lr;
  ao.weight_decay = config_.weight_decay;
  optimizer_ = std::make_unique<optim::Adam>(model_->parameters(), ao);

  // Data.
  std::vector<double> probabilities;
  std::vector<std::string> names;
  std::vector<int64_t> sizes;
  for (const DatasetSpec& d : config_.datasets) {
    train_sets_.push_back(open_dataset(d, config_.img_res, config_.augment, config_.seed));
    probabilities.push_back(d.probability);
    names.push_back(d.name);
    sizes.push_back(train_sets_.back()->size());
  }
  train_source_ = std::make_shared<data::MixedDataset>(train_sets_, probabilities, config_.seed);
  data::LoaderOptions lo;
  lo.batch_size = config_.batch_size;
  lo.num_workers = static_cast<int>(config_.num_workers);
  lo.seed = config_.seed;
  loader_ = std::make_unique<data::DataLoader>(train_source_, lo);
  HMR_CHECK(loader_->num_batches() > 0, ValueError, "train: the training set has ", train_source_->size(),
            " samples, fewer than one batch of ", config_.batch_size);
  if (!config_.eval_dataset.npz.empty())
    eval_source_ = open_dataset(config_.eval_dataset, config_.img_res, false, config_.seed);

  // SPIN's fitting in the loop.
  fits_ = FitsDict(names, sizes);
  if (config_.method == "spin") {
    int64_t loaded = fits_.load_static(fs::path(config_.datasets.front().npz).parent_path().string());
    if (loaded > 0) log_ << "loaded static fits for " << loaded << " dataset(s)\n";
    fitting::Gmm gmm;
    if (config_.smplify.gmm.empty()) {
      log_ << "fitting an 8-component GMM pose prior to sampled poses (no smplify.gmm given)\n";
      gmm = synthetic_gmm(config_.seed);
    } else {
      gmm = fitting::load_gmm(config_.smplify.gmm);
    }
    prior_ = std::make_unique<fitting::GmmPrior>(gmm, DType::F32, device_);
    fitting::SmplifyOptions so;
    so.camera_iters = config_.smplify.camera_iters;
    so.body_iters = config_.smplify.body_iters;
    smplify_ = std::make_unique<fitting::Smplify>(*body_, *prior_, so);
  }

  std::ofstream csv(fs::path(out_dir_) / "log.csv", std::ios::app);
  if (fs::file_size(fs::path(out_dir_) / "log.csv") == 0) csv << kLogHeader;
}

Trainer::~Trainer() = default;

std::string Trainer::latest_checkpoint_path() const {
  return (fs::path(out_dir_) / "checkpoint.safetensors").string();
}

data::Batch Trainer::next_batch() {
  // Batch b of the run is batch (b mod n) of epoch (b / n): a resumed run sees the same data.
  const int64_t n = loader_->num_batches();
  const int64_t epoch = step_ / n, within = step_ % n;
  if (epoch != epoch_) {
    loader_->start_epoch(epoch, within);
    epoch_ = epoch;
  }
  std::optional<data::Batch> b = loader_->next();
  HMR_INTERNAL_CHECK(b.has_value(), "train: the loader ran out of batches in epoch ", epoch);
  return b->to(device_);
}

StepReport Trainer::step() {
  const auto start = std::chrono::steady_clock::now();
  data::Batch batch = next_batch();
  const int64_t bsz = batch.size();
  Tensor has_smpl = batch.has_smpl, has_pose_3d = batch.has_pose_3d;
  if (config_.ignore_3d) {
    has_smpl = zeros_like(has_smpl);
    has_pose_3d = zeros_like(has_pose_3d);
  }
  StepReport r;
  r.epoch = epoch_;

  // Targets: the ground-truth SMPL where there is one, else (SPIN) the best fit so far.
  Tensor opt_pose = batch.pose, opt_betas = batch.betas, valid = has_smpl;
  Tensor kp_pixels, opt_score;
  if (smplify_) {
    NoGradGuard no_grad;
    kp_pixels = keypoints_to_crop_pixels(batch.keypoints);
    auto stored = fits_.get(batch.dataset_index, batch.sample_index, batch.rot_angle, batch.is_flipped);
    opt_pose = stored.first.to(device_);
    opt_betas = stored.second.to(device_);
    body::BodyOutput out = body_->forward(opt_betas, opt_pose);
    Tensor joints = body_->spin_joints49(out);
    Tensor conf = narrow(kp_pixels, 2, 2, 1).squeeze(-1);
    Tensor cam_t = geometry::estimate_camera_translation(joints, narrow(kp_pixels, 2, 0, 2), conf,
                                                         kFocalLength, kCropSize);
    opt_score = smplify_->reprojection_score(opt_pose, opt_betas, cam_t, kp_pixels);
    // Rows never fitted count as infinitely bad, so the first in-loop fit always replaces them.
    Tensor filled = fits_.has_fit(batch.dataset_index, batch.sample_index).to(device_);
    opt_score = where(gt(filled, 0.0), opt_score, full_like(opt_score, 1e30));
  }

  Prediction pred = predict(*model_, *body_, batch.img);

  if (smplify_) {
    NoGradGuard no_grad;
    if (config_.smplify.run) {
      Tensor pose_aa = reshape(geometry::matrix_to_axis_angle(pred.regression.rotmat.detach()), {bsz, -1});
      pose_aa = where(isnan(pose_aa), zeros_like(pose_aa), pose_aa);
      fitting::SmplifyResult fit =
          smplify_->run(pose_aa, pred.regression.betas.detach(), pred.cam_t.detach(), kp_pixels);
      Tensor update = lt(fit.reprojection_loss, opt_score);
      Tensor u2 = unsqueeze(update, 1);
      opt_pose = where(u2, fit.pose, opt_pose);
      opt_betas = where(u2, fit.betas, opt_betas);
      opt_score = where(update, fit.reprojection_loss, opt_score);
      fits_.set(batch.dataset_index, batch.sample_index, batch.rot_angle, batch.is_flipped, opt_pose,
                opt_betas, update);
      r.fits_updated = host(mean(update.to(DType::F32)));
    }
    // SPIN: extreme shapes are replaced by the mean shape; ground truth wins; fits scoring above
    // the threshold are not used for the parameter losses.
    Tensor extreme = any(gt(abs(opt_betas), 3.0), {1}, true);
    opt_betas = where(extreme, zeros_like(opt_betas), opt_betas);
    Tensor has = gt(unsqueeze(has_smpl, 1), 0.0);
    opt_pose = where(has, batch.pose, opt_pose);
    opt_betas = where(has, batch.betas, opt_betas);
    valid = logical_or(lt(opt_score, config_.smplify.threshold), gt(has_smpl, 0.0)).to(DType::F32);
  }
  r.fit_valid = host(mean(valid));

  const SpinLossWeights& w = config_.loss;
  Tensor l_kp2d = keypoint_2d_loss(pred.keypoints, batch.keypoints, w.openpose, w.gt_2d) * w.keypoint_2d;
  Tensor l_kp3d =
      keypoint_3d_loss(narrow(pred.joints49, 1, 25, 24), batch.pose_3d, has_pose_3d) * w.keypoint_3d;
  SmplLosses smpl =
      smpl_parameter_losses(pred.regression.rotmat, pred.regression.betas, opt_pose, opt_betas, valid);
  Tensor l_pose = smpl.pose * w.pose, l_betas = smpl.betas * w.betas;
  Tensor l_vert;
  Tensor l_cam = camera_scale_loss(pred.regression.cam);
  Tensor total = l_kp2d + l_kp3d + l_pose + l_betas + l_cam;
  if (w.vertices != 0.0) {
    Tensor opt_vertices;
    {
      NoGradGuard no_grad;
      opt_vertices = body_->forward(opt_betas, opt_pose).vertices;
    }
    l_vert = vertex_loss(pred.body.vertices, opt_vertices, valid) * w.vertices;
    total = total + l_vert;
  }
  total = total * w.overall;

  // One host read of all terms: the progress line needs them, and a non-finite term stops the
  // run naming the step and the term before the optimizer can spread it into the weights.
  r.keypoint_2d = host(l_kp2d);
  r.keypoint_3d = host(l_kp3d);
  r.pose = host(l_pose);
  r.betas = host(l_betas);
  r.vertices = l_vert.defined() ? host(l_vert) : 0.0;
  r.camera = host(l_cam);
  r.loss = host(total);
  const std::pair<const char*, double> terms[] = {{"keypoint_2d", r.keypoint_2d},
                                                  {"keypoint_3d", r.keypoint_3d},
                                                  {"pose", r.pose},
                                                  {"betas", r.betas},
                                                  {"vertices", r.vertices},
                                                  {"camera", r.camera}};
  for (const auto& [name, v] : terms)
    HMR_CHECK(std::isfinite(v), ValueError, "training stopped at step ", step_ + 1, ": loss term '", name,
              "' is ", v, " (the last checkpoint is ", latest_checkpoint_path(), ")");

  optimizer_->zero_grad();
  total.backward();
  // The global gradient norm before clipping (logged; clipping only when grad_clip > 0).
  r.grad_norm = host(nn::clip_grad_norm_(model_->parameters(),
                                         config_.grad_clip > 0 ? config_.grad_clip : INFINITY));
  optimizer_->step();
  ++step_;
  r.step = step_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ofstream csv(fs::path(out_dir_) / "log.csv", std::ios::app);
  csv << std::setprecision(8) << r.step << ',' << r.epoch << ',' << r.loss << ',' << r.keypoint_2d << ','
      << r.keypoint_3d << ',' << r.pose << ',' << r.betas << ',' << r.vertices << ',' << r.camera << ','
      << r.fit_valid << ',' << r.fits_updated << ',' << r.grad_norm << ',' << r.seconds << '\n';
  return r;
}

EvalResult Trainer::evaluate_now(const std::function<void(int64_t, int64_t)>& progress) {
  HMR_CHECK(eval_source_ != nullptr, ValueError, "train: no eval_dataset in the config");
  EvalOptions o;
  o.batch_size = config_.batch_size;
  o.num_workers = static_cast<int>(config_.num_workers);
  o.max_samples = config_.eval_samples;
  o.device = device_;
  o.progress = progress;
  EvalResult r = evaluate(*model_, *body_, eval_source_, o);
  const fs::path path = fs::path(out_dir_) / "eval.csv";
  const bool fresh = !fs::exists(path);
  std::ofstream csv(path, std::ios::app);
  if (fresh) csv << "step,samples,mpjpe_mm,pa_mpjpe_mm,mean_pose_mpjpe_mm,mean_pose_pa_mpjpe_mm\n";
  csv << std::setprecision(8) << step_ << ',' << r.samples << ',' << r.mpjpe << ',' << r.pa_mpjpe << ','
      << r.baseline_mpjpe << ',' << r.baseline_pa_mpjpe << '\n';
  return r;
}

void Trainer::save_checkpoint(const std::string& path) {
  TrainingState s;
  s.model = model_.get();
  s.optimizer = optimizer_.get();
  s.step = step_;
  s.metadata["config"] = io::to_json(train_config_to_json(config_));
  s.metadata["method"] = config_.method;
  s.metadata["backbone"] = std::to_string(config_.backbone);
  s.metadata["body_model"] = config_.body_model;
  s.metadata["img_res"] = std::to_string(config_.img_res);
  if (smplify_) fits_.save((fs::path(path).parent_path() / "fits").string());
  train::save_checkpoint(path, s);
}

void Trainer::resume(const std::string& checkpoint) {
  TrainingState s;
  s.model = model_.get();
  s.optimizer = optimizer_.get();
  load_checkpoint(checkpoint, s);
  step_ = s.step;
  epoch_ = -1;
  if (smplify_) {
    const std::string dir = (fs::path(checkpoint).parent_path() / "fits").string();
    if (fs::exists(dir)) fits_.load_static(dir);
  }
  log_ << "resumed from " << checkpoint << " at step " << step_ << "\n";
}

void Trainer::run(const std::function<void(const StepReport&)>& on_step,
                  const std::function<void(int64_t, const EvalResult&)>& on_eval) {
  while (step_ < config_.steps) {
    StepReport r = step();
    if (on_step) on_step(r);
    const bool last = step_ == config_.steps;
    if (step_ % config_.checkpoint_every == 0 || last) save_checkpoint(latest_checkpoint_path());
    if (eval_source_ && (step_ % config_.eval_every == 0 || last)) {
      EvalResult e = evaluate_now();
      if (on_eval) on_eval(step_, e);
    }
  }
}

}  // namespace hmr::train
