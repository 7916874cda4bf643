// io/safetensors: a file built byte by byte from the format description (the safetensors
// package is not installed; see tests/fixtures/make_io_fixtures.py), round trips of every dtype
// and shape, the layout we write, and hostile headers that must throw IOError.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/safetensors.h"
#include "support.h"
#include "tensor/dispatch.h"
#include "tests/io/io_testing.h"

using namespace hmr;
using hmr::testing::error_message;
using hmr::testing::io_fixture;
using hmr::testing::read_bytes;

namespace {

// A file with the given header text and n data bytes (value i % 256).
std::vector<uint8_t> make_file(const std::string& header, size_t n) {
  std::vector<uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i));
  return b;
}

io::SafetensorsFile parse(const std::vector<uint8_t>& b) {
  return io::safetensors_from_bytes(b.data(), b.size(), "mem");
}

Tensor filled(DType dtype, const Shape& shape) {
  Tensor t = Tensor::empty(shape, dtype);
  dispatch_all(dtype, "test", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(static_cast<float>((i * 5) % 7) - 2.0f);
  });
  return t;
}

}  // namespace

TEST(IoSafetensors, LoadsHandBuiltFile) {
  io::SafetensorsFile f = io::load_safetensors(io_fixture("handmade.safetensors"));
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(f.metadata.at("note"), "caf\xC3\xA9 \"quoted\"");
  const TensorDict& t = f.tensors;
  EXPECT_EQ(t.keys(), (std::vector<std::string>{"weight", "bias", "half", "bf16", "idx", "i32", "u8", "mask",
                                                "scalar", "empty"}));
  // The script's formulas: floats (i - n/2) * 0.25, ints (i - n//2) * 3, u8 i*7, bool i%3==0.
  EXPECT_EQ(t.at("weight").to_vector<double>(), (std::vector<double>{-0.75, -0.5, -0.25, 0, 0.25, 0.5}));
  EXPECT_EQ(t.at("weight").sizes(), (Shape{2, 3}));
  EXPECT_EQ(t.at("bias").dtype(), DType::F64);
  EXPECT_EQ(t.at("bias").to_vector<double>(), (std::vector<double>{-0.375, -0.125, 0.125}));
  EXPECT_EQ(t.at("half").dtype(), DType::F16);
  EXPECT_EQ(t.at("half").to_vector<double>(), (std::vector<double>{-0.5, -0.25, 0, 0.25}));
  EXPECT_EQ(t.at("bf16").dtype(), DType::BF16);
  EXPECT_EQ(t.at("bf16").to_vector<double>(), (std::vector<double>{-0.5, -0.25, 0, 0.25}));
  EXPECT_EQ(t.at("idx").to_vector<int64_t>(), (std::vector<int64_t>{-3, 0}));
  EXPECT_EQ(t.at("i32").to_vector<int64_t>(), (std::vector<int64_t>{-3, 0}));
  EXPECT_EQ(t.at("u8").to_vector<int64_t>(), (std::vector<int64_t>{0, 7, 14, 21, 28}));
  EXPECT_EQ(t.at("mask").to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(t.at("scalar").dim(), 0);
  EXPECT_EQ(t.at("scalar").item<double>(), 1.5);
  EXPECT_EQ(t.at("empty").sizes(), (Shape{0, 4}));
}

TEST(IoSafetensors, RoundTripsEveryDtypeShapeAndMetadata) {
  hmr::testing::ScratchDir dir;
  TensorDict d;
  int k = 0;
  for (DType dtype :
       {DType::Bool, DType::U8, DType::I32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64}) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{3}, Shape{2, 0, 3}, Shape{2, 3, 4}})
      d.set(str("t", k++, "_", dtype), filled(dtype, shape));
  }
  // A transposed view: saved in logical order.
  Tensor base = filled(DType::F32, {3, 4});
  d.set("transposed", Tensor::make_view(base.storage(), {4, 3}, {1, 4}, 0, DType::F32));
  std::map<std::string, std::string> meta{{"format", "pt"}, {"escaped", "a\"\\\n\x01"}};
  std::string path = dir.file("x.safetensors");
  io::save_safetensors(path, d, meta);
  io::SafetensorsFile back = io::load_safetensors(path);
  EXPECT_EQ(back.metadata, meta);
  EXPECT_EQ(back.tensors.keys(), d.keys());
  for (const auto& [name, t] : d) {
    SCOPED_TRACE(name);
    EXPECT_EQ(back.tensors.at(name).dtype(), t.dtype());
    EXPECT_EQ(back.tensors.at(name).sizes(), t.sizes());
    EXPECT_EQ(back.tensors.at(name).to_vector<double>(), t.to_vector<double>());
  }
  std::vector<float> tv = back.tensors.at("transposed").to_vector<float>();
  std::vector<float> bv = base.to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(tv[i * 3 + j], bv[j * 4 + i]);
}

TEST(IoSafetensors, WrittenLayoutFollowsTheFormat) {
  TensorDict d;
  d.set("small", filled(DType::U8, {3}));
  d.set("big", filled(DType::F64, {2}));
  std::vector<uint8_t> b = io::safetensors_to_bytes(d);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  EXPECT_EQ((8 + n) % 8, 0u);
  io::Json h = io::parse_json(std::string(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n)));
  EXPECT_EQ(h.find("__metadata__"), nullptr);  // no metadata given: no key
  EXPECT_EQ(h.at("big").at("dtype").as_string(), "F64");
  // 8-byte elements first so both start aligned; no gaps: the data ends the file.
  EXPECT_EQ(h.at("big").at("data_offsets")[0].as_int(), 0);
  EXPECT_EQ(h.at("big").at("data_offsets")[1].as_int(), 16);
  EXPECT_EQ(h.at("small").at("data_offsets")[0].as_int(), 16);
  EXPECT_EQ(h.at("small").at("data_offsets")[1].as_int(), 19);
  EXPECT_EQ(b.size(), 8 + n + 19);
  EXPECT_EQ(h.at("small").at("shape")[0].as_int(), 3);
}

TEST(IoSafetensors, HostileHeadersAreIOErrors) {
  struct Case {
    const char* header;
    size_t data;
    const char* message;
  };
  const Case cases[] = {
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}})", 8, "outside"},
      {R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "needs 12 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
       8, "overlap"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "duplicate key 'a'"},
      {R"({"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})", 8, "unsupported dtype 'I8'"},
      {R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 8, "non-negative"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 8, "begin <= end"},
      {R"({"a":{"dtype":"F32","shape":[1]}})", 8, "needs dtype, shape and data_offsets"},
      {R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 8, "too large"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}})", 8, "non-negative"},
      {R"({"__metadata__":{"k":1}})", 0, "must be a string"},
      {R"([1,2])", 0, "must be a JSON object"},
      {R"({"a":)", 0, "unexpected end"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> b = make_file(c.header, c.data);
    std::string msg = error_message([&] { parse(b); });
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.header << "\n -> " << msg;
    EXPECT_THROW(parse(b), IOError) << c.header;
  }
  // Header length far beyond the file, and beyond the 100 MB cap.
  for (uint64_t len : {uint64_t{1} << 40, uint64_t{200'000'000}, uint64_t{100}}) {
    std::vector<uint8_t> b = make_file("{}", 0);
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(len >> (8 * i));
    EXPECT_THROW(parse(b), IOError) << len;
  }
  EXPECT_THROW(io::load_safetensors("/nonexistent.safetensors"), IOError);
}

TEST(IoSafetensors, BoolBytesAreNormalised) {
  std::vector<uint8_t> b = make_file(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", 0);
  b.insert(b.end(), {0, 2, 255});
  EXPECT_EQ(parse(b).tensors.at("m").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1}));
}

TEST(IoSafetensors, EveryTruncationAndFlipIsHandled) {
  std::vector<uint8_t> b = read_bytes(io_fixture("handmade.safetensors"));
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(parse(cut), IOError) << "truncated to " << n;
  }
  for (size_t i = 0; i < b.size(); ++i) {
    std::vector<uint8_t> bad = b;
    bad[i] ^= 0x5A;
    try {
      parse(bad);
    } catch (const IOError&) {
    }
  }
}
