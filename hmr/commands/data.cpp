// `hmr data synth`: the embedded default dataset. Renders the body model in sampled poses and
// writes images, masks, part maps and IUV maps plus the annotations in SPIN's preprocessed .npz
// layout (and COCO JSON for multi-person scenes), so the loaders and every training command read
// it exactly as they read the real datasets.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "autograd/ops.h"
#include "hmr/body/generate.h"
#include "hmr/commands/commands.h"
#include "hmr/data/annotations.h"
#include "hmr/data/synth.h"
#include "io/image.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/zip.h"

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

// save_dataset_npz writes SPIN's string keys only; an extra string array (iuvname) goes in by
// rewriting the archive with one more member. load_dataset_npz skips string keys it does not
// know, so SPIN-style readers are unaffected.
void add_string_array(const std::string& npz, const std::string& key, const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> members;
  {
    const io::ZipReader in = io::ZipReader::open(npz);
    for (const io::ZipEntry& e : in.entries()) members.emplace_back(e.name, in.read(e));
  }
  io::ZipWriter out(npz);
  for (const auto& [name, bytes] : members) out.add(name, bytes.data(), bytes.size());
  const std::vector<uint8_t> b = io::npy_strings_to_bytes({{static_cast<int64_t>(values.size())}, values});
  out.add(key + ".npy", b.data(), b.size());
  out.close();
}

// COCO's uncompressed RLE of a row-major u8 mask: runs down the columns, starting with zeros.
io::Json coco_rle(const std::vector<uint8_t>& mask, int64_t height, int64_t width) {
  io::Json counts = io::Json::array();
  uint8_t current = 0;
  int64_t run = 0;
  for (int64_t x = 0; x < width; ++x)
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t on = mask[static_cast<size_t>(y * width + x)] ? 1 : 0;
      if (on != current) {
        counts.push_back(run);
        current = on;
        run = 0;
      }
      ++run;
    }
  counts.push_back(run);
  io::Json rle = io::Json::object();
  io::Json size = io::Json::array();
  size.push_back(height);
  size.push_back(width);
  rle.set("size", size);
  rle.set("counts", counts);
  return rle;
}

io::Json coco_categories() {
  io::Json names = io::Json::array(), skeleton = io::Json::array();
  for (const char* n : data::kCocoKeypointNames) names.push_back(n);
  // COCO's limb list, 1-based keypoint indices.
  const int limbs[19][2] = {{16, 14}, {14, 12}, {17, 15}, {15, 13}, {12, 13}, {6, 12}, {7, 13}, {6, 7}, {6, 8}, {7, 9},
                            {8, 10},  {9, 11},  {2, 3},   {1, 2},   {1, 3},   {2, 4},  {3, 5},  {4, 6}, {5, 7}};
  for (const auto& l : limbs) {
    io::Json pair = io::Json::array();
    pair.push_back(l[0]);
    pair.push_back(l[1]);
    skeleton.push_back(pair);
  }
  io::Json person = io::Json::object();
  person.set("id", 1);
  person.set("name", "person");
  person.set("supercategory", "person");
  person.set("keypoints", names);
  person.set("skeleton", skeleton);
  io::Json categories = io::Json::array();
  categories.push_back(person);
  return categories;
}

// One COCO annotation for a person of a scene: box, area and RLE of the visible mask.
io::Json coco_annotation(int64_t id, int64_t image_id, const data::SynthSample& s, const Tensor& keypoints, int64_t res) {
  const std::vector<uint8_t> mask = s.mask.to_vector<uint8_t>();
  int64_t x0 = res, y0 = res, x1 = -1, y1 = -1, area = 0;
  for (int64_t y = 0; y < res; ++y)
    for (int64_t x = 0; x < res; ++x)
      if (mask[static_cast<size_t>(y * res + x)]) {
        ++area;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  io::Json bbox = io::Json::array();
  for (int64_t v : area ? std::array<int64_t, 4>{x0, y0, x1 - x0 + 1, y1 - y0 + 1} : std::array<int64_t, 4>{0, 0, 0, 0})
    bbox.push_back(static_cast<double>(v));
  io::Json kp = io::Json::array();
  int64_t labelled = 0;
  const std::vector<double> k = keypoints.to_vector<double>();
  for (size_t j = 0; j < 17; ++j) {
    kp.push_back(k[3 * j]);
    kp.push_back(k[3 * j + 1]);
    kp.push_back(static_cast<int64_t>(k[3 * j + 2]));
    labelled += k[3 * j + 2] > 0;
  }
  io::Json a = io::Json::object();
  a.set("id", id);
  a.set("image_id", image_id);
  a.set("category_id", 1);
  a.set("bbox", bbox);
  a.set("area", static_cast<double>(area));
  a.set("iscrowd", 0);
  a.set("keypoints", kp);
  a.set("num_keypoints", labelled);
  a.set("segmentation", coco_rle(mask, res, res));
  return a;
}

int synth(const Args& args, Streams& io) {
  const std::string out = args.get("out");
  HMR_CHECK(!out.empty(), cli::UsageError, "hmr data synth: --out DIR is required");
  const int64_t count = args.get_int("count");
  HMR_CHECK(count > 0, cli::UsageError, "hmr data synth: --count must be positive, found ", count);
  const std::string split = args.get("split");
  const int64_t people = args.get_int("people");
  HMR_CHECK(people >= 1 && people <= 8, cli::UsageError, "hmr data synth: --people must be in 1..8, found ", people);
  data::SynthOptions options;
  options.res = args.get_int("res");
  options.seed = static_cast<uint64_t>(args.get_int("seed")) * 3 + static_cast<uint64_t>(split_index(split));
  const body::BodyModelData model = body::resolve_body_model(args.get("model"));
  const data::SynthGenerator generator(model, options);

  for (const char* sub : {"images", "masks", "parts", "iuv"}) fs::create_directories(fs::path(out) / sub);
  data::DatasetAnnotations ann;
  std::vector<std::string> iuvname;
  std::vector<double> center, scale, part, openpose, S, pose, shape, focal, transl;
  // One npz row per person (SPIN's layout: a row is a person crop).
  auto add_row = [&](const data::SynthSample& s, const std::string& image, const std::string& mask,
                     const std::string& parts, const std::string& iuv) {
    ann.imgname.push_back(image);
    ann.maskname.push_back(mask);
    ann.partname.push_back(parts);
    iuvname.push_back(iuv);
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
  };
  io::Json coco_images = io::Json::array(), coco_annotations = io::Json::array();
  ProgressBar bar(count, "img", io.err, io.err_is_terminal);
  for (int64_t i = 0; i < count; ++i) {
    std::ostringstream name;
    name << split << "_" << std::setw(6) << std::setfill('0') << i;
    const std::string image = "images/" + name.str() + ".jpg", parts = "parts/" + name.str() + ".png",
                      iuv = "iuv/" + name.str() + ".png";
    if (people == 1) {
      const data::SynthSample s = generator.sample(i);
      const std::string mask = "masks/" + name.str() + ".png";
      io::write_jpeg((fs::path(out) / image).string(), s.image, 92);
      io::write_png((fs::path(out) / mask).string(), s.mask);
      io::write_png((fs::path(out) / parts).string(), s.parts);
      io::write_png((fs::path(out) / iuv).string(), s.iuv);
      add_row(s, image, mask, parts, iuv);
    } else {
      const data::SynthScene sc = generator.scene(i, static_cast<int>(people));
      io::write_jpeg((fs::path(out) / image).string(), sc.image, 92);
      io::write_png((fs::path(out) / parts).string(), sc.parts);
      io::write_png((fs::path(out) / iuv).string(), sc.iuv);
      io::Json im = io::Json::object();
      im.set("id", i + 1);
      im.set("file_name", image);
      im.set("width", options.res);
      im.set("height", options.res);
      coco_images.push_back(im);
      for (size_t k = 0; k < sc.people.size(); ++k) {
        const std::string mask = "masks/" + name.str() + "_" + std::to_string(k) + ".png";
        io::write_png((fs::path(out) / mask).string(), sc.people[k].mask);
        add_row(sc.people[k], image, mask, parts, iuv);
        coco_annotations.push_back(coco_annotation(static_cast<int64_t>(coco_annotations.size()) + 1, i + 1,
                                                   sc.people[k], sc.coco_keypoints[k], options.res));
      }
    }
    bar.update(i + 1);
  }
  bar.finish();
  const int64_t rows = ann.size();
  auto f32 = [](const std::vector<double>& v, const Shape& shape_) { return Tensor::from_vector(v, shape_).to(DType::F32); };
  ann.center = f32(center, {rows, 2});
  ann.scale = f32(scale, {rows});
  ann.part = f32(part, {rows, 24, 3});
  ann.openpose = f32(openpose, {rows, 25, 3});
  ann.S = f32(S, {rows, 24, 4});
  ann.pose = f32(pose, {rows, 72});
  ann.shape = f32(shape, {rows, 10});
  ann.has_smpl = f32(std::vector<double>(static_cast<size_t>(rows), 1.0), {rows});
  ann.extra.set("focal_length", f32(focal, {rows}));
  ann.extra.set("transl", f32(transl, {rows, 3}));
  const std::string npz = (fs::path(out) / ("synth_" + split + ".npz")).string();
  data::save_dataset_npz(npz, ann);
  add_string_array(npz, "iuvname", iuvname);
  io.out << "wrote " << count << " " << split << " " << (people == 1 ? "samples" : "scenes") << " (" << options.res
         << "x" << options.res << ", " << rows << " people) to " << out << ", annotations " << npz;
  if (people > 1) {
    io::Json doc = io::Json::object();
    doc.set("images", coco_images);
    doc.set("annotations", coco_annotations);
    doc.set("categories", coco_categories());
    const std::string coco = (fs::path(out) / ("coco_" + split + ".json")).string();
    std::ofstream f(coco, std::ios::binary);
    f << io::to_json(doc);
    HMR_CHECK(f.good(), IOError, "hmr data synth: could not write '", coco, "'");
    io.out << " and " << coco;
  }
  io.out << ", in " << format_duration(bar.elapsed_seconds()) << "\n";
  return kExitOk;
}

}  // namespace

Command data_command() {
  Command c;
  c.name = "data";
  c.summary = "make the synthetic dataset (data synth)";
  c.description =
      "hmr data synth --out DIR --count N [--seed S] [--split train|val|test] [--res R] [--people K] [--model M]\n"
      "    renders N images of people in sampled poses, shapes, clothing colours, lights, cameras,\n"
      "    backgrounds and occluders; writes DIR/images/*.jpg, DIR/masks/*.png, DIR/parts/*.png,\n"
      "    DIR/iuv/*.png (R = part index 1..24, G = U * 255, B = V * 255) and DIR/synth_<split>.npz\n"
      "    in SPIN's layout (imgname, center, scale, part, openpose, S, pose, shape, has_smpl,\n"
      "    maskname, partname, iuvname, focal_length, transl). --people K >= 2 puts K people in each\n"
      "    image at different depths: one npz row per person (its visible mask in\n"
      "    masks/<name>_<k>.png), plus DIR/coco_<split>.json (COCO person keypoints, RLE of the\n"
      "    visible masks). Deterministic for a seed; the splits use distinct seeds.";
  c.options = {
      {"out", "DIR", "output folder", ""},
      {"count", "N", "number of samples", "100"},
      {"seed", "S", "random seed", "0"},
      {"split", "NAME", "train, val or test", "train"},
      {"res", "R", "image side in pixels", "256"},
      {"people", "K", "people per image (1..8; >= 2 also writes COCO JSON)", "1"},
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
