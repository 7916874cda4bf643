// The hmr program, run in-process through hmr::cli::run: help and exit codes of the usual
// command-line conventions, one-line errors, and a short MLP run whose loss must fall.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "hmr/cli.h"
#include "tensor/cuda_context.h"

namespace {

struct Result {
  int code;
  std::string out, err;
};

Result run_hmr(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  hmr::cli::Streams streams{out, err, false};
  int code = hmr::cli::run(args, streams);
  return {code, out.str(), err.str()};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

double number_after(const std::string& s, const std::string& label) {
  std::smatch m;
  std::regex re(label + " ([0-9.eE+-]+)");
  if (!std::regex_search(s, m, re)) ADD_FAILURE() << "no '" << label << "' in output:\n" << s;
  return m.empty() ? 0.0 : std::stod(m[1]);
}

}  // namespace

TEST(HmrCli, HelpListsEveryCommandAndExitsZero) {
  for (const char* flag : {"--help", "-h"}) {
    Result r = run_hmr({flag});
    EXPECT_EQ(r.code, 0);
    EXPECT_TRUE(contains(r.out, "usage: hmr <command>")) << r.out;
    EXPECT_TRUE(contains(r.out, "  info")) << r.out;
    EXPECT_TRUE(contains(r.out, "  mlp")) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST(HmrCli, NoArgumentsPrintsUsageOnStderrAndExitsTwo) {
  Result r = run_hmr({});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "usage: hmr")) << r.err;
}

TEST(HmrCli, CommandHelpListsItsOptions) {
  Result r = run_hmr({"mlp", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* opt : {"--steps N", "--lr LR", "--seed S", "--device D", "--hidden H"})
    EXPECT_TRUE(contains(r.out, opt)) << opt << " missing in\n" << r.out;
  EXPECT_EQ(run_hmr({"info", "-h"}).code, 0);
}

TEST(HmrCli, UnknownCommandIsOneLineOnStderrAndExitsTwo) {
  Result r = run_hmr({"trian"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(contains(r.err, "unknown command 'trian'")) << r.err;
}

TEST(HmrCli, UnknownOptionExitsTwoNamingTheOption) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"mlp", "--step", "5"}, {"mlp", "-x"}, {"--verbose"}, {"info", "extra"}}) {
    Result r = run_hmr(args);
    EXPECT_EQ(r.code, 2) << args.back();
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  EXPECT_TRUE(contains(run_hmr({"mlp", "--step", "5"}).err, "'--step'"));
}

TEST(HmrCli, MalformedValuesAreUsageErrors) {
  Result r = run_hmr({"mlp", "--steps", "ten"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--steps expects an integer but found 'ten'")) << r.err;
  EXPECT_EQ(run_hmr({"mlp", "--lr=abc"}).code, 2);
  EXPECT_EQ(run_hmr({"mlp", "--steps"}).code, 2);
  EXPECT_EQ(run_hmr({"mlp", "--steps", "0"}).code, 2);
  EXPECT_EQ(run_hmr({"mlp", "--device", "tpu"}).code, 2);
}

TEST(HmrCli, VersionAndInfo) {
  Result v = run_hmr({"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, "hmr " + hmr::cli::version() + "\n");
  Result r = run_hmr({"info"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "CPU threads:")) << r.out;
  EXPECT_TRUE(contains(r.out, "CUDA")) << r.out;
  if (hmr::cuda::compiled_with_cuda() && hmr::cuda::device_count() == 0) {
    EXPECT_TRUE(contains(r.out, hmr::cuda::unavailable_reason())) << r.out;
  }
}

TEST(HmrCli, DemoLowersTheLossInFiftySteps) {
  Result r = run_hmr({"mlp", "--steps", "50", "--log-every", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  double initial = number_after(r.out, "initial loss");
  double final_loss = number_after(r.out, "final loss");
  EXPECT_GT(initial, 0.0);
  EXPECT_LT(final_loss, 0.5 * initial) << r.out;
  EXPECT_TRUE(contains(r.out, "step 10/50")) << r.out;
  EXPECT_TRUE(contains(r.out, "step/s, ETA")) << r.out;
}

TEST(HmrCli, DemoIsReproducibleFromItsSeed) {
  std::vector<std::string> args = {"mlp", "--steps", "5", "--hidden", "8", "--samples", "64", "--seed", "7"};
  double a = number_after(run_hmr(args).out, "final loss");
  double b = number_after(run_hmr(args).out, "final loss");
  EXPECT_EQ(a, b);
  args.back() = "8";
  EXPECT_NE(number_after(run_hmr(args).out, "final loss"), a);
}

TEST(HmrCli, DemoOnCudaWithoutADeviceFailsWithOneLineAndExitOne) {
  if (hmr::cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  Result r = run_hmr({"mlp", "--steps", "2", "--device", "cuda"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--device cuda")) << r.err;
}
