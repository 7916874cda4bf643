// Evaluation protocols beyond LSP-14 MPJPE: MPI-INF-3DHP's 17 joints with PCK and AUC, PVE, and
// LSP's silhouette and part segmentation. Checked with the ground truth as the "prediction" on a
// tiny synthetic set (expected values from a naive reimplementation in this file), on joint sets
// built to match exactly (AUC by hand), on hand-made confusion matrices, and through `hmr eval`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/body/generate.h"
#include "hmr/cli.h"
#include "hmr/data/loader.h"
#include "hmr/train/evaluate.h"
#include "hmr/train/pipeline.h"
#include "hmr/train/trainer.h"
#include "io/image.h"

namespace fs = std::filesystem;
using namespace hmr;

namespace {

int run_hmr(const std::vector<std::string>& args, std::string* out = nullptr, std::string* err = nullptr) {
  std::ostringstream o, e;
  cli::Streams streams{o, e, false};
  const int code = cli::run(args, streams);
  if (out) *out = o.str();
  if (err) *err = e.str();
  return code;
}

constexpr int64_t kCount = 8, kRes = 64;

// 8 synthetic test images of 64 x 64 with masks and part maps, made once per test program.
const fs::path& data_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("hmr_evaluate_data_" + std::to_string(::getpid()));
    fs::remove_all(d);
    std::string err;
    const int code = run_hmr({"data", "synth", "--out", d.string(), "--count", std::to_string(kCount),
                              "--split", "test", "--res", std::to_string(kRes), "--model", "generated:small"},
                             nullptr, &err);
    if (code != 0) throw std::runtime_error("synth failed: " + err);
    return d;
  }();
  return dir;
}

const body::BodyModelData& small_body() {
  static const body::BodyModelData data = body::resolve_body_model("generated:small");
  return data;
}

std::string npz_path() { return (data_dir() / "synth_test.npz").string(); }

std::vector<std::string> full_paths(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back((data_dir() / n).string());
  return out;
}

// The crop-camera translation that puts the GT body where the synthetic camera saw it: the
// synthetic camera (focal f, principal point at the image centre) and the crop camera mapped
// back (focal F, principal point at the box centre c) agree on the pelvis Q = P + T and on the
// image scale there when the pelvis depth becomes Z F / f and x, y shift by (res/2 - c) Z / f.
// Away from the pelvis the two perspectives differ (depth extent over distance).
std::vector<double> crop_translation(const std::vector<double>& pelvis, const std::vector<double>& transl,
                                     double focal, double cx, double cy, double scale) {
  const double F = train::kFocalLength * 200.0 * scale / train::kCropSize;
  const double Z = pelvis[2] + transl[2];
  return {transl[0] + (kRes / 2.0 - cx) * Z / focal, transl[1] + (kRes / 2.0 - cy) * Z / focal,
          Z * F / focal - pelvis[2]};
}

struct GroundTruthRun {
  train::EvalResult result;              // through the crop camera, as evaluate() renders
  train::EvalResult exact_camera;        // segmentation with the synthetic camera itself
  std::vector<std::vector<double>> j17;  // per sample, naive per-joint errors (m), mpi17
};

// Feeds the GT pose and shape as the prediction, as evaluate() feeds the regressor's.
GroundTruthRun run_ground_truth(const std::string& protocol) {
  NoGradGuard no_grad;
  body::BodyModel body(small_body());
  data::DatasetAnnotations ann = data::load_dataset_npz(npz_path(), data_dir().string(), true);
  const std::vector<double> focal = ann.extra.at("focal_length").to(DType::F64).to_vector<double>();
  const std::vector<double> transl = ann.extra.at("transl").to(DType::F64).to_vector<double>();
  const std::vector<double> S = ann.S->to(DType::F64).to_vector<double>();
  train::EvalOptions eo;
  eo.protocol = protocol;
  eo.segmentation = true;
  eo.mask_paths = full_paths(ann.maskname);
  eo.part_paths = full_paths(ann.partname);
  train::MetricAccumulator acc(body, eo), exact(body, eo);

  data::DatasetOptions o;
  o.res = 32;
  o.train = false;
  auto dataset = std::make_shared<data::Dataset>("synth", ann, data_dir().string(), o);
  data::LoaderOptions lo;
  lo.batch_size = 3;  // 8 = 3 + 3 + 2: a short last batch
  lo.num_workers = 0;
  lo.shuffle = false;
  lo.drop_last = false;
  data::DataLoader loader(dataset, lo);
  loader.start_epoch(0);

  GroundTruthRun run;
  const std::array<int64_t, 17> h36m_to_j17 = {6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9};
  const std::array<int64_t, 17> j24_to_j17 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17};
  while (std::optional<data::Batch> b = loader.next()) {
    const int64_t n = b->size();
    body::BodyOutput gt = body.forward(b->betas, b->pose);
    const std::vector<int64_t> rows = b->sample_index.to_vector<int64_t>();
    const std::vector<double> joints = gt.joints.to(DType::F64).contiguous().to_vector<double>();
    const std::vector<double> h36m = body.h36m_joints17(gt).to(DType::F64).contiguous().to_vector<double>();
    std::vector<double> cam_t;
    for (int64_t i = 0; i < n; ++i) {
      const auto r = static_cast<size_t>(rows[static_cast<size_t>(i)]);
      const std::vector<double> pelvis(joints.begin() + i * 24 * 3, joints.begin() + i * 24 * 3 + 3);
      const std::vector<double> t(transl.begin() + static_cast<std::ptrdiff_t>(3 * r),
                                  transl.begin() + static_cast<std::ptrdiff_t>(3 * r + 3));
      const std::vector<double> c = ann.center.to(DType::F64).to_vector<double>();
      const double scale = ann.scale.to(DType::F64).to_vector<double>()[r];
      for (double v : crop_translation(pelvis, t, focal[r], c[2 * r], c[2 * r + 1], scale))
        cam_t.push_back(v);
      // The synthetic camera itself: the vertices where the generator put them.
      render::Camera cam{focal[r], focal[r], kRes / 2.0, kRes / 2.0, kRes, kRes};
      Tensor shift = Tensor::from_vector(t, {1, 3}).to(DType::F32);
      exact.add_segmentation(select(gt.vertices, 0, i) + shift, cam, eo.mask_paths[r], eo.part_paths[r]);
      // Naive mpi17 joint errors: both sets minus their pelvis (joint 14 of the 17).
      std::vector<double> errors(17);
      const double* p = h36m.data() + i * 17 * 3;
      const double* g = S.data() + r * 24 * 4;
      for (int64_t k = 0; k < 17; ++k) {
        double d2 = 0;
        for (int64_t a = 0; a < 3; ++a) {
          const double pk = p[h36m_to_j17[k] * 3 + a] - p[h36m_to_j17[14] * 3 + a];
          const double gk = g[j24_to_j17[k] * 4 + a] - g[j24_to_j17[14] * 4 + a];
          d2 += (pk - gk) * (pk - gk);
        }
        errors[static_cast<size_t>(k)] = std::sqrt(d2);
      }
      run.j17.push_back(errors);
    }
    acc.add(*b, n, gt, Tensor::from_vector(cam_t, {n, 3}).to(DType::F32));
  }
  run.result = acc.result();
  run.exact_camera = exact.result();
  return run;
}

}  // namespace

TEST(EvalProtocols, SpinJointMapsAndPartGrouping) {
  // SPIN's constants.py, and the MPI-INF-3DHP pelvis at position 14 of both selections.
  EXPECT_EQ(train::kH36mToJ17[train::kJ17Pelvis], 0);  // H36M's joint 0 is the pelvis
  EXPECT_EQ(train::kJ24ToJ17[train::kJ17Pelvis], 14);  // GT joint 14 is 'Pelvis (MPII)'
  EXPECT_EQ(train::kJ24ToJ17[13], 18);                 // 'Head (H36M)', not LSP's head top
  int count[7] = {};
  for (int64_t g : train::kSmplPartToSix) ++count[g];
  EXPECT_EQ(count[train::kBackground], 0);
  EXPECT_EQ(count[train::kHead], 2);   // neck, head
  EXPECT_EQ(count[train::kTorso], 6);  // pelvis, 3 spine, 2 collars
  for (int g : {train::kLeftArm, train::kRightArm, train::kLeftLeg, train::kRightLeg}) EXPECT_EQ(count[g], 4);
  // SMPL numbers left before right: 1 left hip, 16 left shoulder, 23 right hand.
  EXPECT_EQ(train::kSmplPartToSix[1], train::kLeftLeg);
  EXPECT_EQ(train::kSmplPartToSix[16], train::kLeftArm);
  EXPECT_EQ(train::kSmplPartToSix[23], train::kRightArm);
}

// GT joints made from the prediction's own regressed joints: every error is 0, so PCK is 1 and
// AUC, the mean PCK over thresholds 0, 5, ..., 150 mm with "error < threshold", misses only the
// threshold 0: exactly 30/31. (Procrustes of identical sets leaves ~1e-12 m, still below 5 mm.)
TEST(EvalProtocols, IdenticalJointsGiveZeroErrorPckOneAndAucThirtyOverThirtyOne) {
  NoGradGuard no_grad;
  body::BodyModel body(small_body());
  Generator gen(7);
  Tensor pose = randn({3, 72}, {}, &gen) * 0.3, betas = randn({3, 10}, {}, &gen);
  body::BodyOutput out = body.forward(betas, pose);
  const std::vector<float> h36m = body.h36m_joints17(out).contiguous().to_vector<float>();
  const std::vector<float> lsp = body.lsp_joints14(out).contiguous().to_vector<float>();
  std::vector<float> s17(3 * 24 * 4, 0.f), s14(3 * 24 * 4, 0.f);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t k = 0; k < 17; ++k)
      for (int64_t a = 0; a < 3; ++a) {
        s17[static_cast<size_t>((b * 24 + train::kJ24ToJ17[k]) * 4 + a)] =
            h36m[static_cast<size_t>((b * 17 + train::kH36mToJ17[k]) * 3 + a)];
        if (k < 14)
          s14[static_cast<size_t>((b * 24 + k) * 4 + a)] = lsp[static_cast<size_t>((b * 14 + k) * 3 + a)];
      }
  train::PoseErrors e = train::pose_errors(body, out, Tensor::from_vector(s17, {3, 24, 4}), "mpi17");
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_NEAR(e.mpjpe.to_vector<double>()[b], 0.0, 1e-9);
    EXPECT_NEAR(e.pa_mpjpe.to_vector<double>()[b], 0.0, 1e-3);
    EXPECT_EQ(e.pck.to_vector<double>()[b], 1.0);
    EXPECT_EQ(e.pa_pck.to_vector<double>()[b], 1.0);
    EXPECT_NEAR(e.auc.to_vector<double>()[b], 30.0 / 31.0, 1e-12);
    EXPECT_NEAR(e.pa_auc.to_vector<double>()[b], 30.0 / 31.0, 1e-12);
  }
  train::PoseErrors l = train::pose_errors(body, out, Tensor::from_vector(s14, {3, 24, 4}), "lsp14");
  EXPECT_NEAR(max(l.mpjpe).item(), 0.0, 1e-9);
  EXPECT_FALSE(l.pck.defined());  // lsp14 reports no PCK
  EXPECT_THROW(train::pose_errors(body, out, Tensor::from_vector(s17, {3, 24, 4}), "h36m"), ValueError);
}

// The GT pose and shape as the prediction on 8 synthetic images. Pose: the generated body's
// H36M regressor and the GT joint set (SPIN's 24, from J_regressor_extra) agree on 15 of the 17
// joints; they differ at 12 (H36M's thorax against LSP's neck) and 13 (H36M's head top against
// GT joint 18, the H36M head), so MPJPE is those offsets over 17 — the naive reimplementation
// here gives the expected numbers. PVE is exactly 0 (same body, same inputs).
TEST(EvalProtocols, GroundTruthAsPredictionOnSyntheticData) {
  GroundTruthRun run = run_ground_truth("mpi17");
  const train::EvalResult& r = run.result;
  ASSERT_EQ(r.samples, kCount);
  double mpjpe = 0, pck = 0, auc = 0;
  for (const auto& errors : run.j17) {
    double m = 0, p = 0, a = 0;
    for (double e : errors) {
      m += e;
      p += e < 0.150;
      for (int t = 0; t <= 30; ++t) a += e < 0.005 * t;
    }
    mpjpe += m / 17 * 1000 / kCount;
    pck += p / 17 / kCount;
    auc += a / (17 * 31) / kCount;
  }
  EXPECT_NEAR(r.mpjpe, mpjpe, 1e-3);
  EXPECT_NEAR(r.pck, pck, 1e-9);
  EXPECT_NEAR(r.auc, auc, 1e-9);
  EXPECT_EQ(r.pck, 1.0);  // the head offset is a few cm, far below 150 mm
  EXPECT_LT(r.mpjpe, 10.0);
  // Procrustes minimises the squared distances, not their mean: with 15 joints exact and 2 off, it
  // spreads the offset over all 17, so PA-MPJPE may exceed MPJPE here (observed 13.7 vs 9.8 mm).
  EXPECT_EQ(r.pa_pck, 1.0);
  EXPECT_LT(r.pa_mpjpe, 20.0);
  EXPECT_EQ(r.shape_samples, kCount);
  EXPECT_NEAR(r.pve, 0.0, 1e-9);

  // Segmentation. With the synthetic camera the render is the generator's own (f32 against f64
  // vertices and part majorities taken after grouping move a few edge pixels): observed FB 1 / 1,
  // parts accuracy 0.99994, F1 0.9991. Through the crop camera (focal 5000 on the 224 crop: about
  // 26 person heights away against the generator's 2-10) limbs nearer or farther than the pelvis
  // land up to a pixel off at 64 px: observed FB accuracy 0.9959, F1 0.984, parts accuracy 0.994,
  // F1 0.951. Masks are drawn before occluders, so occluders cost nothing. Bounds leave margin.
  EXPECT_EQ(r.segmentation_samples, kCount);
  const train::EvalResult& x = run.exact_camera;
  std::cout << "[ figures ] mpi17 GT-as-prediction: MPJPE " << r.mpjpe << " mm, PA-MPJPE " << r.pa_mpjpe
            << " mm, PCK " << r.pck << ", AUC " << r.auc << ", PA-AUC " << r.pa_auc << ", PVE " << r.pve
            << " mm\n[ figures ] crop camera: FB acc " << r.fb_accuracy << " F1 " << r.fb_f1 << ", parts acc "
            << r.parts_accuracy << " F1 " << r.parts_f1 << "\n[ figures ] synthetic camera: FB acc "
            << x.fb_accuracy << " F1 " << x.fb_f1 << ", parts acc " << x.parts_accuracy << " F1 "
            << x.parts_f1 << "\n";
  EXPECT_GT(x.fb_accuracy, 0.999);
  EXPECT_GT(x.fb_f1, 0.998);
  EXPECT_GT(x.parts_accuracy, 0.999);
  EXPECT_GT(x.parts_f1, 0.99);
  EXPECT_GT(r.fb_accuracy, 0.99);
  EXPECT_GT(r.fb_f1, 0.97);
  EXPECT_GT(r.parts_accuracy, 0.98);
  EXPECT_GT(r.parts_f1, 0.9);
}

TEST(EvalProtocols, Lsp14GroundTruthHasNoPck) {
  GroundTruthRun run = run_ground_truth("lsp14");
  EXPECT_EQ(run.result.samples, kCount);
  EXPECT_TRUE(std::isnan(run.result.pck));
  EXPECT_TRUE(std::isnan(run.result.auc));
  EXPECT_NEAR(run.result.pve, 0.0, 1e-9);
}

// Foreground/background, 2 classes, one 2 x 3 image:
//   gt   1 1 0 | 0 1 0        class 1: TP 2 (pixels 0, 4), FP 1 (3), FN 1 (1) -> F1 4/6
//   pred 1 0 0 | 1 1 0        class 0: TP 2 (2, 5),      FP 1 (1), FN 1 (3) -> F1 4/6
// accuracy 4/6.
TEST(EvalProtocols, HandMadeForegroundConfusionGivesExpectedF1) {
  metrics::SegmentationScores s(2);
  s.add(Tensor::from_vector(std::vector<int64_t>{1, 0, 0, 1, 1, 0}, {2, 3}),
        Tensor::from_vector(std::vector<int64_t>{1, 1, 0, 0, 1, 0}, {2, 3}));
  EXPECT_NEAR(s.mean_f1(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.accuracy(), 4.0 / 6.0, 1e-12);
}

// 7 classes over two images, with an ignored (255) GT pixel predicted as part 3:
//   A gt   0 1 2 3 4 5 6 255    B gt   6 6
//   A pred 0 1 2 3 4 5 5 3      B pred 6 0
// class 0: TP 1, FP 1 (B1) -> 2/3; classes 1-4: 1 (the ignored pixel adds no FP to 3);
// class 5: TP 1, FP 1 (A6) -> 2/3; class 6: TP 1, FN 2 -> 1/2. Mean (4 + 4/3 + 1/2)/7 = 5/6.
// Accuracy: A 6 of 8 (the ignored pixel counts as background, predicted 3), B 1 of 2 -> 7/10.
TEST(EvalProtocols, HandMadePartConfusionWithIgnoredPixelsGivesExpectedF1) {
  metrics::SegmentationScores s(7);
  s.add(Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 5, 3}, {8}),
        Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 255}, {8}));
  s.add(Tensor::from_vector(std::vector<int64_t>{6, 0}, {2}),
        Tensor::from_vector(std::vector<int64_t>{6, 6}, {2}));
  const std::vector<double> f1 = s.f1();
  const double expected[7] = {2.0 / 3, 1, 1, 1, 1, 2.0 / 3, 0.5};
  for (int c = 0; c < 7; ++c) EXPECT_NEAR(f1[static_cast<size_t>(c)], expected[c], 1e-12) << c;
  EXPECT_NEAR(s.mean_f1(), 5.0 / 6.0, 1e-12);
  EXPECT_NEAR(s.accuracy(), 0.7, 1e-12);
}

TEST(EvalCli, BadProtocolOrPartLabelsIsAUsageError) {
  std::string out, err;
  EXPECT_EQ(run_hmr({"eval", "--checkpoint", "c.safetensors", "--dataset", npz_path(), "--protocol", "h36m"},
                    &out, &err),
            cli::kExitUsage);
  EXPECT_NE(err.find("--protocol"), std::string::npos) << err;
  EXPECT_NE(err.find("'h36m'"), std::string::npos) << err;
  EXPECT_EQ(
      run_hmr({"eval", "--checkpoint", "c.safetensors", "--dataset", npz_path(), "--part-labels", "p24"},
              &out, &err),
      cli::kExitUsage);
  EXPECT_NE(err.find("'p24'"), std::string::npos) << err;
}

// An untrained regressor through `hmr eval --protocol mpi17 --segmentation`: every metric printed.
TEST(EvalCli, Mpi17WithSegmentationPrintsEveryMetric) {
  const fs::path dir = fs::temp_directory_path() / ("hmr_evaluate_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  train::TrainConfig c;
  c.method = "hmr";
  c.body_model = "generated:small";
  c.backbone = 18;
  c.img_res = 32;
  c.batch_size = 4;
  c.num_workers = 0;
  c.device = "cpu";
  c.datasets = {{"synth", npz_path(), "", 1.0}};
  std::ostringstream log;
  train::Trainer t(c, dir.string(), log);
  const std::string ckpt = (dir / "checkpoint.safetensors").string();
  t.save_checkpoint(ckpt);
  std::string out, err;
  ASSERT_EQ(run_hmr({"eval", "--checkpoint", ckpt, "--dataset", npz_path(), "--protocol", "mpi17",
                     "--segmentation", "--workers", "0"},
                    &out, &err),
            0)
      << err;
  for (const char* key : {"protocol mpi17, samples 8", "MPJPE", "PA-MPJPE", "PCK@150mm", "AUC", "PVE",
                          "segmentation samples 8", "FB accuracy", "parts accuracy"})
    EXPECT_NE(out.find(key), std::string::npos) << key << "\n" << out;
  fs::remove_all(dir);
}

// A GT part image whose labels do not fit the declared kind is refused, naming the file and label.
TEST(EvalProtocols, PartImageWithLabelsOfAnotherKindIsAValueError) {
  NoGradGuard no_grad;
  body::BodyModel body(small_body());
  const fs::path png =
      fs::temp_directory_path() / ("hmr_evaluate_parts_" + std::to_string(::getpid()) + ".png");
  io::write_png(png.string(), Tensor::from_vector(std::vector<uint8_t>{0, 9, 30, 255}, {2, 2}));
  Tensor vertices = select(body.forward(zeros({1, 10}), zeros({1, 72})).vertices, 0, 0) +
                    Tensor::from_vector(std::vector<float>{0, 0, 5}, {1, 3});
  const render::Camera cam{100, 100, 1, 1, 2, 2};
  for (auto [kind, label] :
       {std::pair{train::PartLabels::Six, "9"}, std::pair{train::PartLabels::Smpl24, "30"}}) {
    train::EvalOptions eo;
    eo.segmentation = true;
    eo.part_labels = kind;
    train::MetricAccumulator acc(body, eo);
    try {
      acc.add_segmentation(vertices, cam, "", png.string());
      ADD_FAILURE() << "no error for label " << label;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(png.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::string("label ") + label), std::string::npos) << e.what();
    }
  }
  fs::remove(png);
}
