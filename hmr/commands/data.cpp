// `hmr data synth`: the embedded default dataset. Renders the body model in sampled poses and
// writes images, masks and part maps plus the annotations in SPIN's preprocessed .npz layout,
// so the loaders and every training command read it exactly as they read the real datasets.
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "autograd/ops.h"
#include "hmr/body/generate.h"
#include "hmr/commands/commands.h"
#include "hmr/data/annotations.h"
#include "hmr/data/synth.h"
#include "io/image.h"

namespace hmr::cli {
namespace {

namespace fs = std::filesystem;

// Distinct seeds per split, so train, val and test never share a sample.
int split_index(const std::string& split) {
  if (split == "train") return 0;
  if (split == "val") return 1;
  if (split == "test") return 2;
  HMR_CHECK(false, cli::UsageError, "hmr data synth: --split must be train, val or test, found '", split, "'");
  return 0;
}

int synth(const Args& args, Streams& io) {
  const std::string out = args.get("out");
  HMR_CHECK(!out.empty(), cli::UsageError, "hmr data synth: --out DIR is required");
  const int64_t count = args.get_int("count");
  HMR_CHECK(count > 0, cli::UsageError, "hmr data synth: --count must be positive, found ", count);
  const std::string split = args.get("split");
  HMR_CHECK(args.get_int("people") == 1, ValueError,
            "hmr data synth: --people > 1 (multi-person scenes with COCO-style JSON) is not implemented yet");
  data::SynthOptions options;
  options.res = args.get_int("res");
  options.seed = static_cast<uint64_t>(args.get_int("seed")) * 3 + static_cast<uint64_t>(split_index(split));
  const body::BodyModelData model = body::resolve_body_model(args.get("model"));
  const data::SynthGenerator generator(model, options);

  for (const char* sub : {"images", "masks", "parts"}) fs::create_directories(fs::path(out) / sub);
  data::DatasetAnnotations ann;
  std::vector<double> center, scale, part, openpose, S, pose, shape, focal, transl;
  ProgressBar bar(count, "img", io.err, io.err_is_terminal);
  for (int64_t i = 0; i < count; ++i) {
    const data::SynthSample s = generator.sample(i);
    std::ostringstream name;
    name << split << "_" << std::setw(6) << std::setfill('0') << i;
    const std::string image = "images/" + name.str() + ".jpg", mask = "masks/" + name.str() + ".png",
                      parts = "parts/" + name.str() + ".png";
    io::write_jpeg((fs::path(out) / image).string(), s.image, 92);
    io::write_png((fs::path(out) / mask).string(), s.mask);
    io::write_png((fs::path(out) / parts).string(), s.parts);
    ann.imgname.push_back(image);
    ann.maskname.push_back(mask);
    ann.partname.push_back(parts);
    center.insert(center.end(), s.center.begin(), s.center.end());
    scale.push_back(s.scale);
    // SPIN's 24 ground-truth joints are entries 25..48 of its 49.
    const auto j2 = s.joints2d.to_vector<double>(), j3 = s.joints3d.to_vector<double>();
    part.insert(part.end(), j2.begin() + 25 * 3, j2.end());
    for (int j = 25; j < 49; ++j) {
      S.insert(S.end(), j3.begin() + 3 * j, j3.begin() + 3 * j + 3);
      S.push_back(1.0);
    }
    const auto op = s.openpose.to_vector<double>();
    openpose.insert(openpose.end(), op.begin(), op.end());
    pose.insert(pose.end(), s.pose.begin(), s.pose.end());
    shape.insert(shape.end(), s.betas.begin(), s.betas.end());
    focal.push_back(s.focal);
    transl.insert(transl.end(), s.transl.begin(), s.transl.end());
    bar.update(i + 1);
  }
  bar.finish();
  auto f32 = [](const std::vector<double>& v, const Shape& shape_) { return Tensor::from_vector(v, shape_).to(DType::F32); };
  ann.center = f32(center, {count, 2});
  ann.scale = f32(scale, {count});
  ann.part = f32(part, {count, 24, 3});
  ann.openpose = f32(openpose, {count, 25, 3});
  ann.S = f32(S, {count, 24, 4});
  ann.pose = f32(pose, {count, 72});
  ann.shape = f32(shape, {count, 10});
  ann.has_smpl = f32(std::vector<double>(static_cast<size_t>(count), 1.0), {count});
  ann.extra.set("focal_length", f32(focal, {count}));
  ann.extra.set("transl", f32(transl, {count, 3}));
  const std::string npz = (fs::path(out) / ("synth_" + split + ".npz")).string();
  data::save_dataset_npz(npz, ann);
  io.out << "wrote " << count << " " << split << " samples (" << options.res << "x" << options.res << ") to " << out
         << ", annotations " << npz << ", in " << format_duration(bar.elapsed_seconds()) << "\n";
  return kExitOk;
}

}  // namespace

Command data_command() {
  Command c;
  c.name = "data";
  c.summary = "make the synthetic dataset (data synth)";
  c.description =
      "hmr data synth --out DIR --count N [--seed S] [--split train|val|test] [--res R] [--model M]\n"
      "    renders N people in sampled poses, shapes, clothing colours, lights, cameras,\n"
      "    backgrounds and occluders; writes DIR/images/*.jpg, DIR/masks/*.png, DIR/parts/*.png\n"
      "    and DIR/synth_<split>.npz in SPIN's layout (imgname, center, scale, part, openpose, S,\n"
      "    pose, shape, has_smpl, maskname, partname, focal_length, transl). Deterministic for a\n"
      "    seed; the splits use distinct seeds.";
  c.options = {
      {"out", "DIR", "output folder", ""},
      {"count", "N", "number of samples", "100"},
      {"seed", "S", "random seed", "0"},
      {"split", "NAME", "train, val or test", "train"},
      {"res", "R", "image side in pixels", "256"},
      {"people", "K", "people per image (only 1 so far)", "1"},
      {"model", "M", "body model (generated, generated:small or a file)", "generated"},
  };
  c.takes_positional = true;
  c.run = [](const Args& args, Streams& io) {
    const auto& pos = args.positional();
    HMR_CHECK(pos.size() == 1 && pos[0] == "synth", cli::UsageError, "hmr data: expected the action 'synth'");
    return synth(args, io);
  };
  return c;
}

}  // namespace hmr::cli
