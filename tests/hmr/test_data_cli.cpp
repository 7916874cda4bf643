// `hmr data synth` run in-process: the written dataset opens with the real-dataset loader
// (every image present, every array the documented shape), its annotations agree with the
// generator's samples, the splits differ, and the same seed writes the same files; with
// --people K the COCO JSON reads back and agrees with the masks and the npz rows.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hmr/body/generate.h"
#include "hmr/cli.h"
#include "hmr/data/annotations.h"
#include "hmr/data/synth.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/zip.h"

namespace fs = std::filesystem;
using namespace hmr;

namespace {

int run_hmr(const std::vector<std::string>& args, std::string* err = nullptr) {
  std::ostringstream out, e;
  cli::Streams streams{out, e, false};
  const int code = cli::run(args, streams);
  if (err) *err = e.str();
  return code;
}

// The npz's iuvname array (a string key load_dataset_npz does not keep).
std::vector<std::string> iuvnames(const fs::path& npz) {
  const io::ZipReader zip = io::ZipReader::open(npz.string());
  const std::vector<uint8_t> b = zip.read("iuvname.npy");
  return io::npy_strings_from_bytes(b.data(), b.size(), "iuvname").values;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(DataCli, SynthWritesASpinStyleDataset) {
  const fs::path dir = fs::temp_directory_path() / ("hmr_data_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string err;
  ASSERT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--count", "3", "--seed", "4", "--res", "64", "--model",
                     "generated:small"}, &err), 0) << err;
  const data::DatasetAnnotations a = data::load_dataset_npz((dir / "synth_train.npz").string(), dir.string(), true);
  ASSERT_EQ(a.size(), 3);
  ASSERT_TRUE(a.part && a.S && a.pose && a.shape && a.openpose && a.has_smpl);
  EXPECT_EQ(a.part->sizes(), (Shape{3, 24, 3}));
  EXPECT_EQ(a.S->sizes(), (Shape{3, 24, 4}));
  EXPECT_EQ(a.maskname.size(), 3u);
  EXPECT_EQ(io::read_image((dir / a.imgname[1]).string()).sizes(), (Shape{64, 64, 3}));
  EXPECT_EQ(io::read_image((dir / a.maskname[1]).string(), 1).sizes(), (Shape{64, 64, 1}));

  // The rows are the generator's samples for the train split's seed (4 * 3 + 0).
  data::SynthOptions o;
  o.res = 64;
  o.seed = 12;
  const data::SynthSample s = data::SynthGenerator(body::default_body_model(body::BodySize::Small), o).sample(2);
  const auto pose = a.pose->to(DType::F64).to_vector<double>();
  for (int k = 0; k < 72; ++k) EXPECT_NEAR(pose[static_cast<size_t>(2 * 72 + k)], s.pose[static_cast<size_t>(k)], 1e-6);
  const auto part = a.part->to(DType::F64).to_vector<double>(), j2 = s.joints2d.to_vector<double>();
  for (int k = 0; k < 24 * 3; ++k) EXPECT_NEAR(part[static_cast<size_t>(2 * 72 + k)], j2[static_cast<size_t>(25 * 3 + k)], 1e-3);

  // Same seed, same bytes; another split, other samples.
  const std::string first = slurp(dir / "synth_train.npz");
  ASSERT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--count", "3", "--seed", "4", "--res", "64", "--model",
                     "generated:small"}), 0);
  EXPECT_EQ(slurp(dir / "synth_train.npz"), first);
  ASSERT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--count", "3", "--seed", "4", "--res", "64", "--model",
                     "generated:small", "--split", "val"}), 0);
  const data::DatasetAnnotations v = data::load_dataset_npz((dir / "synth_val.npz").string(), dir.string(), true);
  EXPECT_NE(v.pose->to_vector<float>(), a.pose->to_vector<float>());

  EXPECT_EQ(run_hmr({"data", "synth", "--count", "3"}), cli::kExitUsage);  // no --out
  EXPECT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--split", "dev"}), cli::kExitUsage);
  EXPECT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--people", "9"}), cli::kExitUsage);
  EXPECT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--people", "0"}), cli::kExitUsage);

  // The IUV maps: one per row, named in the npz, I equal to the part map's labels.
  const std::vector<std::string> iuv = iuvnames(dir / "synth_train.npz");
  ASSERT_EQ(iuv.size(), 3u);
  EXPECT_EQ(iuv[1], "iuv/train_000001.png");
  const auto iuv_px = io::read_image((dir / iuv[1]).string()).to_vector<uint8_t>();
  const auto parts_px = io::read_image((dir / a.partname[1]).string(), 1).to_vector<uint8_t>();
  ASSERT_EQ(iuv_px.size(), parts_px.size() * 3);
  for (size_t p = 0; p < parts_px.size(); ++p) EXPECT_EQ(iuv_px[3 * p], parts_px[p]);
  fs::remove_all(dir);
}

TEST(DataCli, SynthPeopleWritesCocoJson) {
  const fs::path dir = fs::temp_directory_path() / ("hmr_data_cli_people_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string err;
  const std::vector<std::string> cmd = {"data", "synth", "--out", dir.string(), "--count", "2", "--seed", "1",
                                        "--res", "64", "--people", "3", "--model", "generated:small"};
  ASSERT_EQ(run_hmr(cmd, &err), 0) << err;
  // SPIN-style rows: one per person, the image name repeated, each with its own mask.
  const data::DatasetAnnotations a = data::load_dataset_npz((dir / "synth_train.npz").string(), dir.string(), true);
  ASSERT_EQ(a.size(), 6);
  EXPECT_EQ(a.imgname[0], a.imgname[2]);
  EXPECT_NE(a.imgname[2], a.imgname[3]);
  EXPECT_NE(a.maskname[0], a.maskname[1]);
  EXPECT_EQ(iuvnames(dir / "synth_train.npz").size(), 6u);

  const data::CocoDataset coco = data::load_coco_json((dir / "coco_train.json").string());
  ASSERT_EQ(coco.images.size(), 2u);
  ASSERT_EQ(coco.annotations.size(), 6u);
  EXPECT_EQ(coco.images[1].file_name, a.imgname[3]);
  EXPECT_EQ(coco.images[1].width, 64);
  const auto part = a.part->to(DType::F64).to_vector<double>();
  for (size_t row = 0; row < 6; ++row) {
    const data::CocoAnnotation& ann = coco.annotations[row];
    EXPECT_EQ(ann.image_id, coco.images[row / 3].id);
    EXPECT_EQ(ann.category_id, 1);
    EXPECT_FALSE(ann.iscrowd);
    // The decoded segmentation is the person's visible mask as written.
    const auto decoded = data::annotation_mask(ann, 64, 64).to_vector<uint8_t>();
    const auto mask = io::read_image((dir / a.maskname[row]).string(), 1).to_vector<uint8_t>();
    int64_t inter = 0, uni = 0, area = 0;
    double x0 = 64, y0 = 64, x1 = -1, y1 = -1;
    for (size_t p = 0; p < mask.size(); ++p) {
      const bool m = mask[p] > 127, d = decoded[p] != 0;
      inter += m && d, uni += m || d, area += m;
      if (m) {
        const double x = static_cast<double>(p % 64), y = static_cast<double>(p / 64);
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
      }
    }
    if (uni > 0) {
      EXPECT_GT(static_cast<double>(inter) / static_cast<double>(uni), 0.99) << "annotation " << row;
    }
    EXPECT_EQ(ann.area, static_cast<double>(area));
    ASSERT_EQ(ann.bbox.size(), 4u);
    if (area > 0) {  // the box encloses the mask (and is tight)
      EXPECT_EQ(ann.bbox[0], x0);
      EXPECT_EQ(ann.bbox[1], y0);
      EXPECT_EQ(ann.bbox[0] + ann.bbox[2], x1);
      EXPECT_EQ(ann.bbox[1] + ann.bbox[3], y1);
    }
    // Keypoints: COCO's 17 taken from the row's 24 ground-truth joints (SPIN 25..48).
    ASSERT_TRUE(ann.keypoints);
    const auto kp = ann.keypoints->to(DType::F64).to_vector<double>();
    const int64_t coco_from_gt[17] = {19, 20, 21, 22, 23, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0};
    for (size_t c = 0; c < 17; ++c) {
      const size_t j = row * 72 + static_cast<size_t>(coco_from_gt[c]) * 3;
      if (part[j + 2] == 0) {
        EXPECT_EQ(kp[3 * c + 2], 0);
        continue;
      }
      EXPECT_NEAR(kp[3 * c], part[j], 1e-3);
      EXPECT_NEAR(kp[3 * c + 1], part[j + 1], 1e-3);
      EXPECT_TRUE(kp[3 * c + 2] == 1 || kp[3 * c + 2] == 2);
    }
  }
  // Deterministic per seed.
  const std::string first = slurp(dir / "coco_train.json");
  ASSERT_EQ(run_hmr(cmd), 0);
  EXPECT_EQ(slurp(dir / "coco_train.json"), first);
  fs::remove_all(dir);
}

}  // namespace
