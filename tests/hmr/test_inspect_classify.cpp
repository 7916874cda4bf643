// `hmr inspect` and `hmr classify`, run in-process. inspect: files written here with known
// values (checksums by hand) in each format, JSON output parsed back, errors. classify: a
// torchvision ResNet-18 checkpoint and images made by tests/fixtures/make_resnet_fixtures.py,
// whose logits PyTorch computed (skipped when /usr/bin/python3 lacks torch + torchvision).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "autograd/ops.h"
#include "hmr/cli.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"

using namespace hmr;
namespace fs = std::filesystem;

namespace {

struct Result {
  int code;
  std::string out, err;
};

Result run_hmr(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  cli::Streams streams{out, err, false};
  int code = cli::run(args, streams);
  return {code, out.str(), err.str()};
}

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("hmr_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(HmrInspect, NpzTableAndJson) {
  std::string path = scratch("a.npz").string();
  TensorDict d;
  d.set("w", tensor({1, 2, 3, -4}, DType::F32).reshape({2, 2}));  // sum 2, l2 sqrt(30)
  d.set("idx", Tensor::from_vector(std::vector<int64_t>{7, 8}, {2}));
  io::save_npz(path, d);
  Result r = run_hmr({"inspect", path});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "numpy .npz, 2 tensors, 6 elements")) << r.out;
  EXPECT_TRUE(contains(r.out, "[2, 2]")) << r.out;
  EXPECT_TRUE(contains(r.out, "5.47723")) << r.out;  // sqrt(30)

  r = run_hmr({"inspect", path, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  io::Json j = io::parse_json(r.out);
  EXPECT_EQ(j.at("format").as_string(), "numpy .npz");
  const io::Json& w = j.at("tensors")[0];
  EXPECT_EQ(w.at("name").as_string(), "w");
  EXPECT_EQ(w.at("dtype").as_string(), "float32");
  EXPECT_EQ(w.at("shape")[0].as_int(), 2);
  EXPECT_DOUBLE_EQ(w.at("sum").as_double(), 2.0);
  EXPECT_NEAR(w.at("l2").as_double(), std::sqrt(30.0), 1e-12);
  EXPECT_DOUBLE_EQ(j.at("tensors")[1].at("sum").as_double(), 15.0);
}

TEST(HmrInspect, SafetensorsWithMetadata) {
  std::string path = scratch("b.safetensors").string();
  TensorDict d;
  d.set("bias", tensor({0.5, 0.25}, DType::F64));
  io::save_safetensors(path, d, {{"step", "12"}});
  Result r = run_hmr({"inspect", path});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "safetensors, 1 tensors, 2 elements")) << r.out;
  EXPECT_TRUE(contains(r.out, "0.75")) << r.out;
  EXPECT_TRUE(contains(r.out, "__metadata__.step = 12")) << r.out;
}

TEST(HmrInspect, PyTorchCheckpointsFromTheFixtures) {
  // nested_legacy.pt: {'model': {'fc.weight': [[1, 2], [3, 4]], 'fc.bias': ...}, 'epoch': 3}
  // in torch's legacy format (tests/fixtures/make_pickle_fixtures.py).
  std::string path = std::string(HMR_SOURCE_DIR) + "/tests/fixtures/pickle/nested_legacy.pt";
  Result r = run_hmr({"inspect", path, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  io::Json j = io::parse_json(r.out);
  EXPECT_EQ(j.at("format").as_string(), "PyTorch checkpoint (legacy)");
  EXPECT_EQ(j.at("tensors")[0].at("name").as_string(), "model.fc.weight");
  EXPECT_DOUBLE_EQ(j.at("tensors")[0].at("sum").as_double(), 10.0);
  EXPECT_EQ(j.at("entries").at("epoch").as_string(), "3");
}

TEST(HmrInspect, RefusesUnknownFilesAndHostilePickles) {
  std::string path = scratch("notes.txt").string();
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("hello", f);
    std::fclose(f);
  }
  Result r = run_hmr({"inspect", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "not a format hmr reads")) << r.err;
  EXPECT_TRUE(contains(r.err, "68 65 6c 6c 6f")) << r.err;  // "hello"
  r = run_hmr({"inspect", std::string(HMR_SOURCE_DIR) + "/tests/fixtures/pickle/evil_os_system.pkl"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "os.system")) << r.err;
  EXPECT_EQ(run_hmr({"inspect"}).code, 2);
  EXPECT_EQ(run_hmr({"inspect", scratch("missing.npz").string()}).code, 1);
}

TEST(HmrClassify, MatchesTorchvisionLogits) {
  if (std::system("/usr/bin/python3 -c 'import torch, torchvision, PIL' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 has no torch+torchvision+PIL to make the checkpoint and images";
  fs::path dir = scratch("classify");
  std::string cmd = "/usr/bin/python3 " + std::string(HMR_SOURCE_DIR) +
                    "/tests/fixtures/make_resnet_fixtures.py --classify " + dir.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  io::Json expected = io::load_json((dir / "logits.json").string());
  // 224x224 is used as it is: logits equal torch's to float rounding. The wide image goes
  // through resize + crop, where hmr's resampler is PIL's filter but not its fixed-point
  // arithmetic: pixels differ by at most 1/255, which moves the logits slightly.
  for (auto [image, tol] : {std::pair<const char*, double>{"square.png", 2e-5}, {"wide.png", 2e-2}}) {
    Result r = run_hmr({"classify", "--arch", "resnet18", "--weights", (dir / "resnet18.pth").string(), "--image",
                        (dir / image).string(), "--json", "--top", "5"});
    ASSERT_EQ(r.code, 0) << r.err;
    io::Json got = io::parse_json(r.out);
    const io::Json& want = expected.at(image);
    double scale = 0;
    for (size_t i = 0; i < want.size(); ++i) scale = std::max(scale, std::abs(want[i].as_double()));
    for (size_t k = 0; k < 5; ++k) {
      const io::Json& e = got.at("top")[k];
      int64_t cls = e.at("class").as_int();
      EXPECT_NEAR(e.at("logit").as_double(), want[static_cast<size_t>(cls)].as_double(), tol * scale) << image;
      if (k > 0) {
        EXPECT_LE(e.at("logit").as_double(), got.at("top")[k - 1].at("logit").as_double());
      }
    }
    // The top class is torch's top class.
    size_t best = 0;
    for (size_t i = 1; i < want.size(); ++i)
      if (want[i].as_double() > want[best].as_double()) best = i;
    if (std::string(image) == "square.png") {
      EXPECT_EQ(got.at("top")[0].at("class").as_int(), static_cast<int64_t>(best));
    }
  }
  Result bad = run_hmr({"classify", "--arch", "resnet19", "--weights", "x", "--image", "y"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(contains(bad.err, "resnet19")) << bad.err;
  // Weights of another depth: the strict load names the problem keys.
  Result mismatch = run_hmr({"classify", "--arch", "resnet34", "--weights", (dir / "resnet18.pth").string(),
                             "--image", (dir / "square.png").string()});
  EXPECT_EQ(mismatch.code, 1);
  EXPECT_TRUE(contains(mismatch.err, "missing keys")) << mismatch.err;
  fs::remove_all(dir);
}
