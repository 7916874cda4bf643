// `hmr fit`: SMPLify from the mean pose on one person's OpenPose keypoints. The keypoints'
// bounding box (enlarged 1.2x, as SPIN crops) becomes a 224 x 224 crop; the camera starts at
// the closed-form translation that best projects the mean body onto the keypoints; SPIN's two
// stages then fit camera and body. Writes the mesh (camera frame), the parameters and a picture.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>

#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/body/generate.h"
#include "hmr/commands/commands.h"
#include "hmr/data/annotations.h"
#include "hmr/data/pose_sampler.h"
#include "hmr/fitting/smplify.h"
#include "hmr/geometry/camera.h"
#include "hmr/geometry/rotations.h"
#include "hmr/render/shading.h"
#include "io/image.h"
#include "io/mesh.h"
#include "io/npy.h"

namespace fs = std::filesystem;

namespace hmr::cli {
namespace {

struct CropBox {
  double cx = 0, cy = 0, size = 0;  // centre and side in image pixels
};

// The square around the detected keypoints, 1.2x their extent. ValueError if fewer than 4
// joints were detected (too few to place a body).
CropBox crop_from_keypoints(const Tensor& op25, const std::string& path) {
  const Tensor k = op25.to(Device::cpu(), DType::F64).contiguous();
  const double* p = k.data<double>();
  double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
  int detected = 0;
  for (int64_t j = 0; j < 25; ++j) {
    if (!(p[3 * j + 2] > 0)) continue;
    ++detected;
    for (int c = 0; c < 2; ++c) lo[c] = std::min(lo[c], p[3 * j + c]), hi[c] = std::max(hi[c], p[3 * j + c]);
  }
  HMR_CHECK(detected >= 4, ValueError, "hmr fit: '", path, "' has ", detected,
            " detected keypoints (confidence > 0) for the first person, expected at least 4");
  CropBox box{(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 1.2 * std::max(hi[0] - lo[0], hi[1] - lo[1])};
  box.size = std::max(box.size, 1.0);
  return box;
}

// SPIN's 49 keypoints in crop pixels: the 25 OpenPose ones, and no ground-truth joints
// (confidence 0). (1, 49, 3) F32.
Tensor crop_keypoints(const Tensor& op25, const CropBox& box, double image_size) {
  const Tensor k = op25.to(Device::cpu(), DType::F64).contiguous();
  std::vector<double> out(static_cast<size_t>(fitting::kSpinJoints * 3), 0.0);
  const double scale = image_size / box.size;
  for (int64_t j = 0; j < 25; ++j) {
    out[static_cast<size_t>(3 * j)] = (k.data<double>()[3 * j] - box.cx) * scale + image_size / 2;
    out[static_cast<size_t>(3 * j + 1)] = (k.data<double>()[3 * j + 1] - box.cy) * scale + image_size / 2;
    out[static_cast<size_t>(3 * j + 2)] = k.data<double>()[3 * j + 2];
  }
  return Tensor::from_vector(out, {1, fitting::kSpinJoints, 3}).to(DType::F32);
}

// SPIN's mean pose as axis-angle when the model carries it (6-D per joint), else the rest pose
// turned by pi about x so that it stands upright in the camera's y-down frame.
Tensor mean_pose72(const body::BodyModelData& data) {
  if (data.mean_pose.defined() && data.mean_pose.numel() == 6 * data.num_joints()) {
    const Tensor r = geometry::rot6d_to_matrix(data.mean_pose.to(DType::F64).reshape({data.num_joints(), 6}));
    return geometry::matrix_to_axis_angle(r).reshape({1, 3 * data.num_joints()}).to(DType::F32);
  }
  Tensor pose = zeros({1, 3 * data.num_joints()}, DType::F32);
  pose.data<float>()[0] = static_cast<float>(M_PI);
  return pose;
}

fitting::Gmm prior_from_flag(const std::string& path, Streams& io) {
  if (!path.empty()) return fitting::load_gmm(path);
  io.err << "no --gmm given: fitting an 8-component prior to 2000 sampled poses (hmr prior fit-gmm makes a "
            "better one)\n";
  data::PoseSampler sampler(0);
  std::vector<double> poses;
  for (int i = 0; i < 2000; ++i) {
    const std::vector<double> p = sampler.sample_pose(sampler.sample_family());
    poses.insert(poses.end(), p.begin() + 3, p.end());
  }
  return fitting::fit_gmm_em(Tensor::from_vector(poses, {2000, 69}), 8, 20, 0).gmm;
}

// The crop of the image under the fit, nearest-neighbour sampled: (size, size, 3) u8.
Tensor crop_image(const Tensor& image, const CropBox& box, int64_t size) {
  const Tensor img = image.contiguous();
  const int64_t h = img.size(0), w = img.size(1);
  Tensor out = zeros({size, size, 3}, DType::U8);
  const uint8_t* src = img.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  const double step = box.size / static_cast<double>(size);
  for (int64_t v = 0; v < size; ++v)
    for (int64_t u = 0; u < size; ++u) {
      const auto x =
          static_cast<int64_t>(std::floor(box.cx + (static_cast<double>(u) + 0.5 - size / 2.0) * step));
      const auto y =
          static_cast<int64_t>(std::floor(box.cy + (static_cast<double>(v) + 0.5 - size / 2.0) * step));
      if (x < 0 || y < 0 || x >= w || y >= h) continue;
      std::copy(src + (y * w + x) * 3, src + (y * w + x) * 3 + 3, dst + (v * size + u) * 3);
    }
  return out;
}

int fit(const Args& args, Streams& io) {
  const std::string kp_path = args.get("keypoints"), out_dir = args.get("out");
  HMR_CHECK(!kp_path.empty(), cli::UsageError, "hmr fit: --keypoints openpose.json is required");
  HMR_CHECK(!out_dir.empty(), cli::UsageError, "hmr fit: --out DIR must not be empty");
  fitting::SmplifyOptions options;
  options.camera_iters = args.get_int("camera-iters");
  options.body_iters = args.get_int("body-iters");
  options.lr = args.get_double("lr");
  HMR_CHECK(options.camera_iters >= 0 && options.body_iters >= 0 && options.lr > 0, cli::UsageError,
            "hmr fit: expected --camera-iters, --body-iters >= 0 and --lr > 0");

  const Tensor people = data::load_openpose_json(kp_path);  // (K, 25, 3)
  HMR_CHECK(people.dim() == 3 && people.size(0) >= 1, ValueError, "hmr fit: '", kp_path,
            "' holds no person (expected people[0].pose_keypoints_2d with 75 values)");
  const Tensor op25 = people.select(0, 0);
  const CropBox box = crop_from_keypoints(op25, kp_path);
  const Tensor keypoints = crop_keypoints(op25, box, options.image_size);
  io.err << "crop: centre (" << std::fixed << std::setprecision(1) << box.cx << ", " << box.cy << "), side "
         << box.size << " px -> " << options.image_size << " px\n";

  const body::BodyModelData data = body::resolve_body_model(args.get("model"));
  const body::BodyModel model(data, DType::F32);
  const fitting::GmmPrior prior(prior_from_flag(args.get("gmm"), io), DType::F32);
  const fitting::Smplify smplify(model, prior, options);

  // Start: the mean pose and shape, and the camera translation that best explains the
  // detected joints with them (SPIN's closed form; the in-loop fit takes the network's instead).
  const Tensor pose0 = mean_pose72(data);
  const Tensor betas0 = zeros({1, model.num_betas()}, DType::F32);
  const Tensor joints0 = model.spin_joints49(model.forward(betas0, pose0));
  const Tensor cam_t0 = geometry::estimate_camera_translation(
      joints0, keypoints.slice(2, 0, 2), keypoints.select(2, 2), options.focal, options.image_size);
  const double score0 = smplify.reprojection_score(pose0, betas0, cam_t0, keypoints).item();
  io.err << "SMPLify: " << options.camera_iters << " camera + " << options.body_iters << " body iterations, "
         << model.num_vertices() << " vertices; start reprojection loss " << std::setprecision(2) << score0
         << "\n";
  const auto start = std::chrono::steady_clock::now();
  const fitting::SmplifyResult r = smplify.run(pose0, betas0, cam_t0, keypoints);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  fs::create_directories(out_dir);
  const Tensor vertices = (r.vertices + r.cam_t.unsqueeze(1)).select(0, 0).contiguous();  // camera frame
  const std::string obj = (fs::path(out_dir) / "fit.obj").string(),
                    npz = (fs::path(out_dir) / "fit.npz").string();
  io::save_obj(obj, vertices, data.faces);
  TensorDict saved;
  saved.set("pose", r.pose.contiguous());
  saved.set("betas", r.betas.contiguous());
  saved.set("cam_t", r.cam_t.contiguous());
  saved.set("reprojection_loss", r.reprojection_loss.contiguous());
  saved.set("crop", Tensor::from_vector(std::vector<double>{box.cx, box.cy, box.size}, {3}));
  io::save_npz(npz, saved);

  render::Camera camera;
  camera.fx = camera.fy = options.focal;
  camera.cx = camera.cy = options.image_size / 2;
  camera.width = camera.height = static_cast<int64_t>(options.image_size);
  const std::string image_path = args.get("image");
  const Tensor background = image_path.empty() ? Tensor()
                                               : crop_image(io::read_image(image_path), box,
                                                            static_cast<int64_t>(options.image_size));
  const std::string png = (fs::path(out_dir) / "fit.png").string();
  render::write_front_and_side_png(png, vertices.to(DType::F64), data.faces, camera, background);

  io.out << "reprojection loss " << std::fixed << std::setprecision(2) << score0 << " -> "
         << r.reprojection_loss.item() << " in " << std::setprecision(1) << secs << " s\nwrote " << obj
         << "\nwrote " << npz << "\nwrote " << png << "\n";
  return kExitOk;
}

}  // namespace

Command fit_command() {
  Command c;
  c.name = "fit";
  c.summary = "fit the body to OpenPose keypoints with SMPLify (SPIN's two stages)";
  c.description =
      "hmr fit --keypoints openpose.json [--image im.jpg] [--model M] [--gmm gmm_08.pkl|gmm.npz] [--out "
      "DIR]\n"
      "    fits the first person of an OpenPose JSON from the mean pose: a 224 px crop around\n"
      "    the keypoints, a camera stage, then a body stage with the GMM pose prior. Writes\n"
      "    DIR/fit.obj (the mesh in the crop camera's frame), DIR/fit.npz (pose, betas, cam_t,\n"
      "    reprojection_loss, crop) and DIR/fit.png (front over the image crop, and side).";
  c.options = {
      {"keypoints", "F", "OpenPose JSON (BODY_25 pose_keypoints_2d)", ""},
      {"image", "F", "the image the keypoints come from (background of fit.png)", ""},
      {"model", "M", "body model file, or generated / generated:small", "generated"},
      {"gmm", "F", "pose prior: SMPLify's gmm_08.pkl or hmr prior fit-gmm's .npz (default: fit one)", ""},
      {"out", "DIR", "output folder", "fit"},
      {"camera-iters", "N", "Adam iterations of the camera stage", "100"},
      {"body-iters", "N", "Adam iterations of the body stage", "100"},
      {"lr", "LR", "Adam learning rate", "0.01"},
  };
  c.run = fit;
  return c;
}

}  // namespace hmr::cli
