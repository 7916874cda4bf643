// io/npy: files written by numpy 1.24 (tests/fixtures/make_io_fixtures.py) load with the
// values the script's formulas give; our files are byte-identical to numpy's; round trips of
// every dtype and awkward shapes; hostile files throw IOError.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/npy.h"
#include "io/zip.h"
#include "support.h"
#include "tensor/dispatch.h"
#include "tests/io/io_testing.h"

using namespace hmr;
using hmr::testing::error_message;
using hmr::testing::io_fixture;
using hmr::testing::read_bytes;

namespace {

enum class Kind { Float, Signed, Unsigned, Bool };

// The fixture script's arange_values(dtype, shape), element i of n, as a double.
double expected_value(Kind kind, int64_t i, int64_t n) {
  switch (kind) {
    case Kind::Bool:
      return i % 3 == 0 ? 1 : 0;
    case Kind::Float:
      return (static_cast<double>(i) - static_cast<double>(n) / 2) * 0.25;
    case Kind::Unsigned:
      return static_cast<double>(i * 7 % 256);
    case Kind::Signed:
      return static_cast<double>((i - n / 2) * 3);
  }
  return 0;
}

void expect_values(const Tensor& t, Kind kind) {
  std::vector<double> v = t.to_vector<double>();
  ASSERT_EQ(static_cast<int64_t>(v.size()), t.numel());
  for (int64_t i = 0; i < t.numel(); ++i)
    EXPECT_EQ(v[i], expected_value(kind, i, t.numel())) << "element " << i;
}

std::vector<uint8_t> slice(const std::vector<uint8_t>& b, size_t n) {
  return std::vector<uint8_t>(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
}

// A tensor of dtype and shape filled with the formula for kind (through the f64 values).
Tensor make_tensor(DType dtype, const Shape& shape, Kind kind) {
  int64_t n = shape_numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = expected_value(kind, i, n);
  Tensor t = Tensor::empty(shape, dtype);
  dispatch_all(dtype, "test", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(static_cast<float>(v[i]));
  });
  return t;
}

Kind kind_of(DType t) {
  if (t == DType::Bool) return Kind::Bool;
  if (t == DType::U8) return Kind::Unsigned;
  return is_floating(t) ? Kind::Float : Kind::Signed;
}

}  // namespace

TEST(IoNpy, LoadsEveryNumpyDtypeWithWideningRule) {
  struct Case {
    const char* file;
    DType dtype;
    Kind kind;
  };
  const Case cases[] = {
      {"np_le_f2.npy", DType::F16, Kind::Float},    {"np_le_f4.npy", DType::F32, Kind::Float},
      {"np_le_f8.npy", DType::F64, Kind::Float},    {"np_be_f4.npy", DType::F32, Kind::Float},
      {"np_be_f8.npy", DType::F64, Kind::Float},    {"np_le_i4.npy", DType::I32, Kind::Signed},
      {"np_be_i4.npy", DType::I32, Kind::Signed},   {"np_le_i8.npy", DType::I64, Kind::Signed},
      {"np_be_i8.npy", DType::I64, Kind::Signed},   {"np_na_u1.npy", DType::U8, Kind::Unsigned},
      {"np_na_b1.npy", DType::Bool, Kind::Bool},    {"np_na_i1.npy", DType::I32, Kind::Signed},
      {"np_le_i2.npy", DType::I32, Kind::Signed},   {"np_be_i2.npy", DType::I32, Kind::Signed},
      {"np_le_u2.npy", DType::I32, Kind::Unsigned}, {"np_le_u4.npy", DType::I64, Kind::Unsigned},
      {"np_v2_f4.npy", DType::F32, Kind::Float},    {"np_v3_f4.npy", DType::F32, Kind::Float},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    Tensor t = io::load_npy(io_fixture(c.file));
    EXPECT_EQ(t.dtype(), c.dtype);
    EXPECT_EQ(t.sizes(), (Shape{2, 3}));
    expect_values(t, c.kind);
  }
}

TEST(IoNpy, ScalarEmptyAndFortranOrder) {
  Tensor s = io::load_npy(io_fixture("np_scalar_f8.npy"));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<double>(), 2.5);
  Tensor e = io::load_npy(io_fixture("np_empty_f4.npy"));
  EXPECT_EQ(e.sizes(), (Shape{0, 3}));
  // asfortranarray keeps the logical values, so C-order elements follow the formula.
  Tensor f = io::load_npy(io_fixture("np_fortran_f4.npy"));
  EXPECT_EQ(f.sizes(), (Shape{2, 3, 4}));
  EXPECT_TRUE(f.is_contiguous());
  expect_values(f, Kind::Float);
  Tensor fb = io::load_npy(io_fixture("np_fortran_be_i8.npy"));
  EXPECT_EQ(fb.sizes(), (Shape{3, 2}));
  expect_values(fb, Kind::Signed);
}

TEST(IoNpy, ObjectAndComplexArraysAreErrorsNamingTheArray) {
  std::string path = io_fixture("np_object.npy");
  std::string msg = error_message([&] { io::load_npy(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("'|O'"), std::string::npos) << msg;
  msg = error_message([] { io::load_npy(io_fixture("np_complex.npy")); });
  EXPECT_NE(msg.find("'<c8'"), std::string::npos) << msg;
  msg = error_message([] { io::load_npz(io_fixture("np_savez_object.npz")); });
  EXPECT_NE(msg.find("member bad.npy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("object array"), std::string::npos) << msg;
}

TEST(IoNpy, SavedFileIsByteIdenticalToNumpys) {
  struct Case {
    const char* file;
    DType dtype;
  };
  for (Case c : {Case{"np_le_f4.npy", DType::F32}, Case{"np_le_f8.npy", DType::F64},
                 Case{"np_le_i8.npy", DType::I64}, Case{"np_na_b1.npy", DType::Bool},
                 Case{"np_na_u1.npy", DType::U8}, Case{"np_le_f2.npy", DType::F16}}) {
    SCOPED_TRACE(c.file);
    Tensor t = make_tensor(c.dtype, {2, 3}, kind_of(c.dtype));
    EXPECT_EQ(io::npy_to_bytes(t), read_bytes(io_fixture(c.file)));
  }
  EXPECT_EQ(io::npy_to_bytes(Tensor::from_vector(std::vector<double>{2.5}, {})),
            read_bytes(io_fixture("np_scalar_f8.npy")));
}

TEST(IoNpy, RoundTripsAllDtypesAndShapes) {
  hmr::testing::ScratchDir dir;
  const Shape shapes[] = {{}, {0}, {5}, {2, 3}, {2, 0, 3}, {1, 2, 3, 4}};
  for (DType dtype : {DType::Bool, DType::U8, DType::I32, DType::I64, DType::F16, DType::F32, DType::F64}) {
    for (const Shape& shape : shapes) {
      SCOPED_TRACE(str(dtype, " ", shape));
      Tensor t = make_tensor(dtype, shape, kind_of(dtype));
      std::string path = dir.file("a.npy");
      io::save_npy(path, t);
      Tensor back = io::load_npy(path);
      EXPECT_EQ(back.dtype(), dtype);
      EXPECT_EQ(back.sizes(), shape);
      EXPECT_EQ(back.to_vector<double>(), t.to_vector<double>());
    }
  }
}

TEST(IoNpy, NonContiguousInputIsWrittenInLogicalOrder) {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  Tensor base = Tensor::from_vector(v, {3, 4});
  Tensor transposed = Tensor::make_view(base.storage(), {4, 3}, {1, 4}, 0, DType::F32);
  Tensor back =
      io::npy_from_bytes(io::npy_to_bytes(transposed).data(), io::npy_to_bytes(transposed).size(), "t");
  std::vector<float> got = back.to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(got[i * 3 + j], v[j * 4 + i]);
}

TEST(IoNpy, Bfloat16CannotBeSaved) {
  Tensor t = Tensor::empty({2}, DType::BF16);
  std::string msg = error_message([&] { io::npy_to_bytes(t); });
  EXPECT_NE(msg.find("bfloat16"), std::string::npos) << msg;
  EXPECT_THROW(io::npy_to_bytes(t), DTypeError);
}

TEST(IoNpz, LoadsSavezAndSavezCompressed) {
  for (const char* file : {"np_savez.npz", "np_savez_compressed.npz"}) {
    SCOPED_TRACE(file);
    TensorDict d = io::load_npz(io_fixture(file));
    EXPECT_EQ(d.keys(), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(d.at("a").sizes(), (Shape{2, 3}));
    expect_values(d.at("a"), Kind::Float);
    EXPECT_EQ(d.at("b").dtype(), DType::I64);
    expect_values(d.at("b"), Kind::Signed);
    EXPECT_EQ(d.at("c").sizes(), (Shape{3, 1}));
    expect_values(d.at("c"), Kind::Bool);
  }
}

TEST(IoNpz, RoundTripPlainAndCompressed) {
  hmr::testing::ScratchDir dir;
  TensorDict d;
  d.set("weights", make_tensor(DType::F32, {4, 5}, Kind::Float));
  d.set("faces", make_tensor(DType::I64, {7, 3}, Kind::Signed));
  d.set("scalar", make_tensor(DType::F64, {}, Kind::Float));
  for (bool compressed : {false, true}) {
    std::string path = dir.file(compressed ? "c.npz" : "p.npz");
    io::save_npz(path, d, compressed);
    EXPECT_EQ(io::ZipReader::open(path).entries()[0].method, compressed ? 8 : 0);
    TensorDict back = io::load_npz(path);
    EXPECT_EQ(back.keys(), d.keys());
    for (const auto& [name, t] : d) EXPECT_EQ(back.at(name).to_vector<double>(), t.to_vector<double>());
  }
}

TEST(IoNpy, EveryTruncationThrowsIOError) {
  for (const char* file : {"np_le_f4.npy", "np_fortran_be_i8.npy", "np_v2_f4.npy"}) {
    std::vector<uint8_t> b = read_bytes(io_fixture(file));
    for (size_t n = 0; n < b.size(); ++n)
      EXPECT_THROW(io::npy_from_bytes(slice(b, n).data(), n, "cut"), IOError) << file << " " << n;
  }
  std::vector<uint8_t> z = read_bytes(io_fixture("np_savez_compressed.npz"));
  for (size_t n = 0; n < z.size(); ++n) EXPECT_THROW(io::npz_from_bytes(slice(z, n), "cut"), IOError) << n;
}

TEST(IoNpy, HugeOrInconsistentShapesAreErrorsNotAllocations) {
  auto with_header = [](const std::string& dict) {
    std::string h = dict + "\n";
    std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h;
    file += std::string(24, '\0');  // room for six float32s only
    return std::vector<uint8_t>(file.begin(), file.end());
  };
  for (const char* dict : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000000), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
           "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
           "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }",
           "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,), }",
           "{'descr': '<f4', 'shape': (6,), }",
       }) {
    std::vector<uint8_t> b = with_header(dict);
    EXPECT_THROW(io::npy_from_bytes(b.data(), b.size(), "hand"), IOError) << dict;
  }
  std::vector<uint8_t> ok = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(io::npy_from_bytes(ok.data(), ok.size(), "hand").numel(), 6);
}

TEST(IoNpy, FlippedBytesNeverCrash) {
  std::vector<uint8_t> b = read_bytes(io_fixture("np_fortran_f4.npy"));
  for (size_t i = 0; i < b.size(); ++i) {
    std::vector<uint8_t> bad = b;
    bad[i] ^= 0xFF;
    try {
      io::npy_from_bytes(bad.data(), bad.size(), "flip");
    } catch (const IOError&) {
    }
  }
}
