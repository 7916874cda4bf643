// `hmr data synth` run in-process: the written dataset opens with the real-dataset loader
// (every image present, every array the documented shape), its annotations agree with the
// generator's samples, the splits differ, and the same seed writes the same files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "hmr/body/generate.h"
#include "hmr/cli.h"
#include "hmr/data/annotations.h"
#include "hmr/data/synth.h"
#include "io/image.h"

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
  EXPECT_EQ(run_hmr({"data", "synth", "--out", dir.string(), "--people", "2"}), cli::kExitFailure);
  fs::remove_all(dir);
}

}  // namespace
