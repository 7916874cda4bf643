// `hmr body generate|info|forward` run in-process: the written model loads back equal to the
// generated one, info reports it, forward's vertices at zero pose and betas are the template
// (shifted by transl), and bad arguments give the documented exit codes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "hmr/body/generate.h"
#include "hmr/cli.h"
#include "io/image.h"
#include "io/npy.h"

namespace fs = std::filesystem;
using namespace hmr;

namespace {

struct Result {
  int code;
  std::string out, err;
};
Result run_hmr(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  cli::Streams streams{out, err, false};
  const int code = cli::run(args, streams);
  return {code, out.str(), err.str()};
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class BodyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hmr_body_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(BodyCli, GenerateInfoForward) {
  const std::string model = path("small.npz");
  Result g = run_hmr({"body", "generate", "--size", "small", "--out", model});
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_TRUE(contains(g.out, "690 vertices, 1376 faces, 24 joints, 10 betas")) << g.out;

  const body::BodyModelData& ref = body::default_body_model(body::BodySize::Small);
  const body::BodyModelData back = body::load_body_model(model);
  EXPECT_EQ(back.kind, "hmr-npz");
  EXPECT_EQ(std::memcmp(back.v_template.raw_data(), ref.v_template.raw_data(), 690 * 3 * sizeof(double)), 0);
  EXPECT_EQ(std::memcmp(back.posedirs.raw_data(), ref.posedirs.raw_data(), 690 * 3 * 207 * sizeof(double)), 0);

  Result i = run_hmr({"body", "info", "--model", model});
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_TRUE(contains(i.out, "kind: hmr-npz")) << i.out;
  EXPECT_TRUE(contains(i.out, "vertices: 690")) << i.out;
  EXPECT_TRUE(contains(i.out, "right_hand")) << i.out;

  // Zero pose and betas: the template, moved by transl (hand-checkable).
  TensorDict params;
  params.set("betas", Tensor::from_vector(std::vector<float>(2 * 10, 0.f), {2, 10}));
  params.set("pose", Tensor::from_vector(std::vector<float>(2 * 72, 0.f), {2, 72}));
  params.set("transl", Tensor::from_vector(std::vector<float>{0, 0, 0, 1, -2, 3}, {2, 3}));
  io::save_npz(path("params.npz"), params);
  Result f = run_hmr({"body", "forward", "--model", model, "--params", path("params.npz"), "--out", path("out.npz"),
                      "--obj", path("mesh.obj"), "--png", path("view.png")});
  ASSERT_EQ(f.code, 0) << f.err;
  const TensorDict out = io::load_npz(path("out.npz"));
  ASSERT_EQ(out.at("vertices").sizes(), (Shape{2, 690, 3}));
  ASSERT_EQ(out.at("joints").sizes(), (Shape{2, 24, 3}));
  const float* v = out.at("vertices").data<float>();
  const double* t = ref.v_template.data<double>();
  const double shift[3] = {1, -2, 3};
  double err = 0;
  for (int64_t k = 0; k < 690 * 3; ++k) {
    err = std::max(err, std::fabs(v[k] - t[k]));
    err = std::max(err, std::fabs(v[690 * 3 + k] - (t[k] + shift[k % 3])));
  }
  EXPECT_LT(err, 1e-6);
  EXPECT_TRUE(fs::exists(path("mesh_0.obj")));
  EXPECT_TRUE(fs::exists(path("mesh_1.obj")));
  const Tensor png = io::read_image(path("view_1.png"));
  EXPECT_EQ(png.sizes(), (Shape{512, 1024, 3}));  // front and side views side by side
}

TEST_F(BodyCli, Errors) {
  EXPECT_EQ(run_hmr({"body"}).code, cli::kExitUsage);
  EXPECT_EQ(run_hmr({"body", "dance"}).code, cli::kExitUsage);
  EXPECT_EQ(run_hmr({"body", "generate"}).code, cli::kExitUsage);  // no --out
  Result bad_size = run_hmr({"body", "generate", "--size", "medium", "--out", path("x.npz")});
  EXPECT_EQ(bad_size.code, cli::kExitFailure);
  EXPECT_TRUE(contains(bad_size.err, "medium")) << bad_size.err;
  TensorDict params;
  params.set("betas", Tensor::from_vector(std::vector<float>(10, 0.f), {1, 10}));
  io::save_npz(path("nopose.npz"), params);
  Result r = run_hmr({"body", "forward", "--model", "generated:small", "--params", path("nopose.npz"), "--out", path("o.npz")});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_TRUE(contains(r.err, "'pose'")) << r.err;
  Result missing = run_hmr({"body", "info", "--model", path("absent.pkl")});
  EXPECT_EQ(missing.code, cli::kExitFailure);
  EXPECT_TRUE(contains(missing.err, "absent.pkl")) << missing.err;
}

}  // namespace
