// io/torch_file: torch.save checkpoints (zip and legacy formats, nested dicts, a Lightning
// .ckpt, DataParallel prefixes) read without Python, against the values
// tests/fixtures/make_pickle_fixtures.py recorded with torch 1.13; plus malformed checkpoints.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "fixtures/pickle/pickle_fixtures.inc"
#include "io/file.h"
#include "io/torch_file.h"
#include "io/zip.h"
#include "tensor/error.h"
#include "tensor/tensor.h"
#include "tests/io/fuzz_pickle.h"

using namespace hmr;
using io::PickleKind;
using io::PickleValue;

namespace {

std::string fixture(const std::string& name) {
  // HMR_SOURCE_DIR is absolute (tests/CMakeLists.txt); __FILE__ is relative when the build
  // dir is inside the checkout.
  return std::string(HMR_SOURCE_DIR) + "/tests/fixtures/pickle/" + name;
}

std::vector<uint8_t> fixture_bytes(const std::string& name) {
  std::string s = io::read_file(fixture(name));
  return std::vector<uint8_t>(s.begin(), s.end());
}

template <class Fn>
std::string io_error(Fn fn) {
  try {
    fn();
  } catch (const IOError& e) {
    return e.what();
  }
  return "";
}

void expect_state_dict(const TensorDict& sd, const PickleFixtureTensor* want, size_t n) {
  ASSERT_EQ(sd.size(), n);
  size_t i = 0;
  for (const auto& [name, t] : sd) {
    const PickleFixtureTensor& w = want[i++];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(name, w.name);  // insertion order kept
    EXPECT_EQ(t.dtype(), w.dtype);
    EXPECT_EQ(t.sizes(), w.shape);
    EXPECT_EQ(t.strides(), w.stride);
    EXPECT_EQ(t.offset(), w.offset);
    std::vector<double> got = t.to_vector<double>();
    ASSERT_EQ(got.size(), w.values.size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], w.values[k]) << "element " << k;
  }
  for (size_t k = 0; k < n; ++k) {
    std::string other = want[k].shares_storage_with;
    const Tensor& t = sd.at(want[k].name);
    if (!other.empty()) {
      EXPECT_TRUE(t.shares_storage(sd.at(other))) << want[k].name << " / " << other;
    } else if (std::string(want[k].name) != "w32" && sd.contains("w32")) {
      EXPECT_FALSE(t.shares_storage(sd.at("w32"))) << want[k].name;
    }
  }
}

// A literal with embedded NUL bytes, all of it.
template <size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// A zip checkpoint whose data.pkl is the given pickle (and nothing else).
std::vector<uint8_t> zip_with_pickle(const std::string& pkl) {
  io::ZipWriter w("/dev/null");
  w.add("archive/data.pkl", pkl.data(), pkl.size());
  w.add("archive/version", "3\n", 2);
  return w.finish_to_bytes();
}

}  // namespace

class TorchFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchFormats, StateDictOfEveryDtypeWithSharedViews) {
  io::TorchFile f = io::load_torch(fixture("state_dict_" + GetParam() + ".pt"));
  EXPECT_EQ(f.format, GetParam());
  TensorDict sd = io::state_dict_of(f.root);
  expect_state_dict(sd, kStateDict, sizeof(kStateDict) / sizeof(kStateDict[0]));
  // A write through one view is seen by the other: one storage, not two copies.
  sd.at("w32").data<float>()[5] = 42.0f;
  EXPECT_EQ(sd.at("view_slice").to_vector<float>()[0], 42.0f);
  EXPECT_EQ(sd.at("view_t").to_vector<float>()[4], 42.0f);  // view_t[1][1] = w32[1][1]
}

TEST_P(TorchFormats, NestedCheckpointFindsTheModel) {
  io::TorchFile f = io::load_torch(fixture("nested_" + GetParam() + ".pt"));
  expect_state_dict(io::state_dict_of(f.root), kSmallStateDict, 2);
  expect_state_dict(io::state_dict_of(f.root, "model"), kSmallStateDict, 2);
  EXPECT_EQ(f.root.get("epoch").as_int(), 3);
  PickleValue group = f.root.get("optimizer").get("param_groups")[0];
  EXPECT_EQ(group.get("lr").as_double(), 0.1);
  EXPECT_EQ(group.get("params")[1].as_int(), 1);

  std::string err = io_error([&] { io::state_dict_of(f.root, "nope"); });
  EXPECT_NE(err.find("no key 'nope'"), std::string::npos) << err;
  EXPECT_NE(err.find("[model, optimizer, epoch]"), std::string::npos) << err;
  err = io_error([&] { io::state_dict_of(f.root, "optimizer"); });
  EXPECT_NE(err.find("not a dict of str -> tensor"), std::string::npos) << err;
  err = io_error([&] { io::state_dict_of(f.root, "epoch.x"); });
  EXPECT_NE(err.find("int, not a dict"), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(ZipAndLegacy, TorchFormats, ::testing::Values("zip", "legacy"));

TEST(TorchFile, LightningCheckpoint) {
  io::TorchFile f = io::load_torch(fixture("lightning.ckpt"));
  EXPECT_EQ(f.format, "zip");
  TensorDict sd = io::state_dict_of(f.root);
  EXPECT_EQ(sd.keys(), (std::vector<std::string>{"model.fc.weight", "model.fc.bias"}));
  EXPECT_EQ(sd.at("model.fc.bias").to_vector<float>(), (std::vector<float>{0.5f, -0.5f}));
  EXPECT_EQ(f.root.get("global_step").as_int(), 120);
  EXPECT_EQ(f.root.get("pytorch-lightning_version").as_str(), "1.9.0");
  // Tensors outside the state dict load too (the optimizer's step counter).
  PickleValue state = f.root.get("optimizer_states")[0].get("state");
  EXPECT_EQ(state.items()[0].second.get("step").as_tensor().item<double>(), 120.0);
}

TEST(TorchFile, DataParallelPrefixIsStrippedOnRequest) {
  io::TorchFile f = io::load_torch(fixture("data_parallel_zip.pt"));
  EXPECT_EQ(io::state_dict_of(f.root).keys(),
            (std::vector<std::string>{"module.fc.weight", "module.fc.bias"}));
  expect_state_dict(io::state_dict_of(f.root, "", true), kSmallStateDict, 2);
}

TEST(TorchFile, NoStateDictListsTheKeys) {
  io::TorchFile f = io::load_torch(fixture("lightning.ckpt"));
  std::string err = io_error([&] { io::state_dict_of(f.root.get("hyper_parameters")); });
  EXPECT_NE(err.find("top-level keys: [lr]"), std::string::npos) << err;
}

TEST(TorchFile, MalformedCheckpoints) {
  std::string err = io_error([] { io::load_torch(fixture("plain_p2.pkl")); });
  EXPECT_NE(err.find("not a PyTorch checkpoint"), std::string::npos) << err;
  EXPECT_NE(err.find("plain_p2.pkl"), std::string::npos) << err;

  io::ZipWriter w("/dev/null");
  w.add("x.txt", "hi", 2);
  err = io_error([&] { io::load_torch_bytes(w.finish_to_bytes(), "x.zip"); });
  EXPECT_NE(err.find("without <name>/data.pkl"), std::string::npos) << err;

  std::vector<uint8_t> legacy = fixture_bytes("state_dict_legacy.pt");
  legacy.resize(legacy.size() - 10);
  err = io_error([&] { io::load_torch_bytes(legacy, "cut.pt"); });
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;

  std::string evil = io::read_file(fixture("evil_os_system.pkl"));
  err = io_error([&] { io::load_torch_bytes(zip_with_pickle(evil), "evil.pt"); });
  EXPECT_NE(err.find("global 'os.system' is not allowed"), std::string::npos) << err;

  // torch.storage._load_from_bytes(b'...') as pickle.dump of a tensor writes it.
  std::string nested =
      lit("\x80\x02"
          "ctorch.storage\n_load_from_bytes\nC\x01"
          "x\x85R.");
  err = io_error([&] { io::load_torch_bytes(zip_with_pickle(nested), "nested.pt"); });
  EXPECT_NE(err.find("_load_from_bytes"), std::string::npos) << err;
  EXPECT_NE(err.find("re-save it with torch.save"), std::string::npos) << err;

  // A storage reference to a member that is not there.
  std::string missing =
      lit("\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"
          "9X\x03\x00\x00\x00"
          "cpuK\x04tQ.");
  err = io_error([&] { io::load_torch_bytes(zip_with_pickle(missing), "missing.pt"); });
  EXPECT_NE(err.find("no member archive/data/9"), std::string::npos) << err;
}

TEST(TorchFile, FuzzMutationsOfFixtures) {
  const char* seeds[] = {"state_dict_zip.pt", "state_dict_legacy.pt", "nested_legacy.pt", "lightning.ckpt"};
  uint64_t s = 0x2545F4914F6CDD1DULL;
  auto next = [&] {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 2685821657736338717ULL;
  };
  for (const char* name : seeds) {
    std::vector<uint8_t> seed = fixture_bytes(name);
    for (int i = 0; i < 500; ++i) {
      std::vector<uint8_t> b = seed;
      int edits = 1 + static_cast<int>(next() % 3);
      for (int e = 0; e < edits && !b.empty(); ++e) {
        size_t pos = next() % b.size();
        switch (next() % 4) {
          case 0:
            b[pos] ^= static_cast<uint8_t>(1u << (next() % 8));
            break;
          case 1:
            b[pos] = static_cast<uint8_t>(next());
            break;
          case 2:
            b.resize(pos);
            break;
          case 3:
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos));
            break;
        }
      }
      ASSERT_EQ(fuzz::fuzz_torch_file(b.data(), b.size()), 0) << name << " mutation " << i;
    }
  }
}
