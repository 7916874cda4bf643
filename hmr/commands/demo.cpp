// `hmr demo`: a trained regressor on one image. With no arguments: the checkpoint that the
// README's first command trains (runs/hmr/checkpoint.safetensors) on a synthetic test image
// whose ground truth is known. Writes the mesh (OBJ) and the front overlay beside a side view.
#include <cmath>
#include <filesystem>
#include <iomanip>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/commands/commands.h"
#include "hmr/data/annotations.h"
#include "hmr/data/augment.h"
#include "hmr/data/dataset.h"
#include "hmr/data/synth.h"
#include "hmr/metrics/metrics.h"
#include "hmr/render/shading.h"
#include "hmr/train/model_io.h"
#include "hmr/train/pipeline.h"
#include "io/image.h"
#include "io/json.h"
#include "io/mesh.h"

namespace hmr::cli {
namespace {

namespace fs = std::filesystem;

struct Box {
  double cx = 0, cy = 0, scale = 0;
};

// SPIN's bbox_from_openpose: the box around the confident keypoints, 1.2 x its longer side.
Box box_from_keypoints(const Tensor& kp, double threshold, const std::string& label) {
  Tensor k = kp.to(DType::F64).contiguous();
  const double* p = k.data<double>();
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
  for (int64_t j = 0; j < k.size(0); ++j) {
    if (p[j * 3 + 2] <= threshold) continue;
    x0 = std::min(x0, p[j * 3]);
    x1 = std::max(x1, p[j * 3]);
    y0 = std::min(y0, p[j * 3 + 1]);
    y1 = std::max(y1, p[j * 3 + 1]);
  }
  HMR_CHECK(std::isfinite(x0) && x1 > x0 && y1 > y0, ValueError, label,
            ": fewer than two keypoints with confidence above ", threshold, ": cannot place a person box");
  return {(x0 + x1) / 2, (y0 + y1) / 2, 1.2 * std::max(x1 - x0, y1 - y0) / 200.0};
}

// SPIN's bbox_from_json: {"bbox": [x, y, w, h]} (or a bare array).
Box box_from_json(const std::string& path) {
  io::Json doc = io::load_json(path);
  const io::Json& b = doc.is_object() ? doc.at("bbox") : doc;
  HMR_CHECK(b.is_array() && b.size() == 4, ValueError, path, ": expected a bbox [x, y, w, h], found ",
            io::to_json(b));
  const double x = b[0].as_double(), y = b[1].as_double(), w = b[2].as_double(), h = b[3].as_double();
  HMR_CHECK(w > 0 && h > 0, ValueError, path, ": bbox width and height must be positive, found ", w, " x ",
            h);
  return {x + w / 2, y + h / 2, 1.2 * std::max(w, h) / 200.0};
}

// (res, res, 3) u8 -> (1, 3, res, res) f32, ImageNet-normalised (as the loader does).
Tensor normalise(const Tensor& crop) {
  Tensor x = permute(crop.to(DType::F32), {2, 0, 1}) * (1.0 / 255.0);
  Tensor mean = Tensor::from_vector(
      std::vector<float>(data::kImageNetMean.begin(), data::kImageNetMean.end()), {3, 1, 1});
  Tensor std = Tensor::from_vector(std::vector<float>(data::kImageNetStd.begin(), data::kImageNetStd.end()),
                                   {3, 1, 1});
  return unsqueeze(((x - mean) / std).contiguous(), 0);
}

int demo(const Args& args, Streams& io) {
  std::string ckpt = args.get("checkpoint");
  const std::string out = args.get("out");
  train::LoadedRegressor reg = train::load_regressor(ckpt, args.get("model"));
  body::BodyModel body(reg.body);

  Tensor image;
  Box box;
  std::optional<data::SynthSample> truth;
  const std::string image_path = args.get("image");
  if (image_path.empty()) {
    HMR_CHECK(args.get("bbox").empty() && args.get("openpose").empty(), cli::UsageError,
              "hmr demo: --bbox and --openpose need --image");
    data::SynthOptions so;
    so.seed = 2;  // the test split of seed 0 (hmr data synth uses seed * 3 + split)
    so.occlusion = 0;
    truth = data::SynthGenerator(reg.body, so).sample(args.get_int("index"));
    image = truth->image;
    box = {truth->center[0], truth->center[1], truth->scale};
    io.err << "no --image: a synthetic test image (index " << args.get_int("index")
           << ") with known ground truth\n";
  } else {
    image = io::read_image(image_path);
    if (!args.get("bbox").empty()) {
      box = box_from_json(args.get("bbox"));
    } else if (!args.get("openpose").empty()) {
      Tensor people = data::load_openpose_json(args.get("openpose"));
      HMR_CHECK(people.size(0) > 0, ValueError, args.get("openpose"), ": no people");
      box = box_from_keypoints(select(people, 0, 0), 0.2, args.get("openpose"));
    } else {  // the whole image, centred
      box = {(image.size(1) - 1) / 2.0, (image.size(0) - 1) / 2.0,
             static_cast<double>(std::max(image.size(0), image.size(1))) / 200.0};
    }
  }

  NoGradGuard no_grad;
  Tensor crop = data::crop_image(image, box.cx, box.cy, box.scale, reg.img_res);
  train::Prediction p = train::predict(*reg.model, body, normalise(crop));
  Tensor vertices = select(p.body.vertices, 0, 0) + select(p.cam_t, 0, 0);  // camera coordinates

  // The crop's camera mapped back to the image: same translation, focal length scaled by the
  // box side over the 224 px crop, principal point at the box centre.
  render::Camera cam;
  cam.fx = cam.fy = train::kFocalLength * (200.0 * box.scale) / train::kCropSize;
  cam.cx = box.cx;
  cam.cy = box.cy;
  cam.height = image.size(0);
  cam.width = image.size(1);
  fs::create_directories(out);
  const std::string obj = (fs::path(out) / "mesh.obj").string(),
                    png = (fs::path(out) / "overlay.png").string();
  io::save_obj(obj, vertices, body.faces());
  render::ShadingOptions shading;
  shading.opacity = 0.8;
  render::write_front_and_side_png(png, vertices, body.faces(), cam, image, {}, shading);
  io::write_png((fs::path(out) / "crop.png").string(), crop);

  Tensor cam3 = select(p.regression.cam, 0, 0);
  io.out << std::fixed << std::setprecision(3) << "regressor: " << reg.description << "\n"
         << "camera s, tx, ty = " << cam3.to(DType::F64).to_vector<double>()[0] << ", "
         << cam3.to(DType::F64).to_vector<double>()[1] << ", " << cam3.to(DType::F64).to_vector<double>()[2]
         << "; betas[0..2] = " << select(p.regression.betas, 0, 0).to(DType::F64).to_vector<double>()[0]
         << ", " << select(p.regression.betas, 0, 0).to(DType::F64).to_vector<double>()[1] << "\n";
  if (truth) {
    Tensor gt = Tensor::from_vector(truth->pose, {1, 72}).to(DType::F32);
    Tensor gt_betas = Tensor::from_vector(truth->betas, {1, 10}).to(DType::F32);
    body::BodyOutput gt_out = body.forward(gt_betas, gt);
    Tensor a = body.lsp_joints14(p.body).to(DType::F64), b = body.lsp_joints14(gt_out).to(DType::F64);
    io.out << std::setprecision(1)
           << "PA-MPJPE against this image's ground truth: " << metrics::pa_mpjpe(a, b).item() * 1000.0
           << " mm\n";
  }
  io.out << "wrote " << obj << ", " << png << " (front overlay | side view) and "
         << (fs::path(out) / "crop.png").string() << "\n";
  return kExitOk;
}

}  // namespace

Command demo_command() {
  Command c;
  c.name = "demo";
  c.summary = "3D body from one image with a trained regressor";
  c.description =
      "hmr demo [--checkpoint C] [--image IMG [--bbox JSON | --openpose JSON]] [--out DIR]\n"
      "    crops the person (box from a bbox JSON [x, y, w, h], from OpenPose keypoints, or the\n"
      "    whole image), regresses SMPL pose, shape and camera, and writes DIR/mesh.obj,\n"
      "    DIR/overlay.png (mesh over the image beside a side view) and DIR/crop.png. With no\n"
      "    --image it uses a synthetic test image and also prints the error against its ground\n"
      "    truth. The default checkpoint is the one the README's first command trains.";
  c.options = {
      {"checkpoint", "FILE", "our .safetensors checkpoint or SPIN's model_checkpoint.pt",
       "runs/hmr/checkpoint.safetensors"},
      {"image", "IMG", "input image (JPEG/PNG)", ""},
      {"bbox", "JSON", "person box {\"bbox\": [x, y, w, h]}", ""},
      {"openpose", "JSON", "OpenPose keypoints; the first person is used", ""},
      {"index", "N", "which synthetic test image when there is no --image", "0"},
      {"model", "M", "body model (default: the checkpoint's)", ""},
      {"out", "DIR", "output folder", "demo_out"},
  };
  c.run = demo;
  return c;
}

}  // namespace hmr::cli
