// io/pickle: the data-only pickle VM against pickles Python wrote (every protocol, a Python 2
// style SMPL model file with chumpy and scipy.sparse objects) and hostile inputs. Expected
// values come from tests/fixtures/make_pickle_fixtures.py.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixtures/pickle/pickle_fixtures.inc"
#include "io/file.h"
#include "io/pickle.h"
#include "tensor/error.h"
#include "tensor/tensor.h"
#include "tests/io/fuzz_pickle.h"

using namespace hmr;
using io::PickleKind;
using io::PickleValue;

namespace {

std::string pickle_fixture(const std::string& name) {
  // HMR_SOURCE_DIR is absolute (tests/CMakeLists.txt); __FILE__ is relative when the build
  // dir is inside the checkout.
  return std::string(HMR_SOURCE_DIR) + "/tests/fixtures/pickle/" + name;
}

std::vector<uint8_t> fixture_bytes(const std::string& name) {
  std::string s = io::read_file(pickle_fixture(name));
  return std::vector<uint8_t>(s.begin(), s.end());
}

PickleValue load(const std::string& name, const io::UnpickleOptions& opt = {}) {
  return io::unpickle_file(pickle_fixture(name), opt);
}

PickleValue parse(const std::string& bytes, const io::UnpickleOptions& opt = {}) {
  return io::unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), opt);
}
// A literal with embedded NUL bytes, all of it.
template <size_t N>
PickleValue parse(const char (&bytes)[N], const io::UnpickleOptions& opt = {}) {
  return parse(std::string(bytes, N - 1), opt);
}

// The IOError message of fn, or "" when it does not throw IOError.
template <class Fn>
std::string io_error(Fn fn) {
  try {
    fn();
  } catch (const IOError& e) {
    return e.what();
  }
  return "";
}

void expect_array(const Tensor& t, const PickleFixtureArray& want) {
  SCOPED_TRACE(want.name);
  EXPECT_EQ(t.dtype(), want.dtype);
  EXPECT_EQ(t.sizes(), want.shape);
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.values.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want.values[i]) << "element " << i;
}

}  // namespace

// The same dict pickled with protocols 0..5 reads back the same in every one.
class PicklePlain : public ::testing::TestWithParam<int> {};

TEST_P(PicklePlain, ReadsEveryValueKind) {
  PickleValue d = load("plain_p" + std::to_string(GetParam()) + ".pkl");
  ASSERT_TRUE(d.is(PickleKind::Dict));
  EXPECT_EQ(d.get("int").as_int(), 7);
  EXPECT_EQ(d.get("neg").as_int(), -123456789);
  EXPECT_EQ(d.get("big").as_int(), (int64_t{1} << 62) + 5);
  EXPECT_EQ(d.get("neg_big").as_int(), INT64_MIN);
  EXPECT_EQ(d.get("byte_int").as_int(), 255);
  EXPECT_EQ(d.get("float").as_double(), 1.5);
  EXPECT_EQ(d.get("str").as_str(), "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80");  // héllo ☃ 😀
  EXPECT_EQ(d.get("bytes").as_bytes(), std::string("\x00\xff"
                                                   "ab",
                                                   4));

  PickleValue list = d.get("list");
  ASSERT_TRUE(list.is(PickleKind::List));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1].as_int(), 2);
  EXPECT_EQ(list[2][0].as_int(), 3);

  PickleValue tuple = d.get("tuple");
  ASSERT_TRUE(tuple.is(PickleKind::Tuple));
  EXPECT_EQ(tuple[1].as_str(), "a");
  EXPECT_TRUE(tuple[2].is_none());
  EXPECT_TRUE(tuple[3].as_bool());
  EXPECT_FALSE(tuple[4].as_bool());
  EXPECT_TRUE(d.get("empty_tuple").is(PickleKind::Tuple));
  EXPECT_EQ(d.get("empty_tuple").size(), 0u);

  EXPECT_TRUE(d.get("set").is(PickleKind::Set));
  EXPECT_EQ(d.get("set").size(), 3u);
  EXPECT_TRUE(d.get("frozenset").is(PickleKind::FrozenSet));
  EXPECT_EQ(d.get("frozenset")[0].as_str(), "x");
  EXPECT_EQ(d.get("ordered").get("a").as_int(), 1);

  // Non-str keys: a tuple key and an int key, in insertion order.
  auto nested = d.get("nested").items();
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_TRUE(nested[0].first.is(PickleKind::Tuple));
  EXPECT_EQ(nested[0].first[1].as_int(), 2);
  EXPECT_EQ(nested[0].second.as_str(), "tuplekey");
  EXPECT_EQ(nested[1].first.as_int(), 3);

  // Shared references stay shared, and a list that contains itself does too.
  PickleValue shared = d.get("shared");
  EXPECT_EQ(shared[0].node(), shared[1].node());
  PickleValue selfref = d.get("selfref");
  EXPECT_EQ(selfref[1].node(), selfref.node());
  EXPECT_NE(selfref.repr().find("..."), std::string::npos);  // bounded rendering

  EXPECT_EQ(d.get("np_f8").as_double(), 2.5);
  EXPECT_EQ(d.get("np_i8").as_int(), -7);
  EXPECT_TRUE(d.get("np_bool").as_bool());
  for (const PickleFixtureArray& a : kPlainArrays) expect_array(d.get(a.name).as_tensor(), a);
}

INSTANTIATE_TEST_SUITE_P(Protocols, PicklePlain, ::testing::Range(0, 6));

TEST(Pickle, FortranArrayIsAColumnMajorView) {
  Tensor t = load("plain_p2.pkl").get("arr_f8_fortran").as_tensor();
  EXPECT_EQ(t.strides(), (Shape{1, 2}));  // (2, 3) column-major
}

TEST(Pickle, SmplPy2FileWithChumpyAndSparse) {
  PickleValue m = load("smpl_py2.pkl");
  for (const PickleFixtureArray& a : kSmplArrays) {
    if (std::string(a.name) == "J_regressor") continue;
    expect_array(io::array_of(m.get(a.name)), a);
  }
  // chumpy arrays become their 'x'; plain arrays stay arrays.
  EXPECT_TRUE(m.get("v_template").is(PickleKind::Tensor));
  EXPECT_TRUE(m.get("posedirs").is(PickleKind::Tensor));

  const io::SparseMatrix& jr = m.get("J_regressor").as_sparse();
  EXPECT_EQ(jr.format, io::SparseMatrix::Format::CSC);
  EXPECT_EQ(jr.rows, 4);
  EXPECT_EQ(jr.cols, 6);
  EXPECT_EQ(jr.data.numel(), 6);
  for (const PickleFixtureArray& a : kSmplArrays)
    if (std::string(a.name) == "J_regressor") expect_array(jr.to_dense(), a);

  // py2 str -> latin-1 -> utf-8, as pickle.load(f, encoding='latin1').
  EXPECT_EQ(m.get("bs_style").as_str(), "lbs");
  EXPECT_EQ(m.get("name_latin1").as_str(), "caf\xc3\xa9");
  // A lazy chumpy expression stays symbolic; asking for its array names the class.
  PickleValue lazy = m.get("lazy_expr");
  EXPECT_EQ(lazy.qualified_name(), "chumpy.reordering.transpose");
  std::string err = io_error([&] { io::array_of(lazy); });
  EXPECT_NE(err.find("chumpy.reordering.transpose"), std::string::npos) << err;
  EXPECT_NE(io_error([&] { lazy.as_tensor(); }).find("chumpy.reordering.transpose"), std::string::npos);
}

TEST(Pickle, Py2StringsCanStayBytes) {
  io::UnpickleOptions opt;
  opt.py2_strings_as_latin1 = false;
  PickleValue m = load("smpl_py2.pkl", opt);
  // Keys and values are bytes now; str lookups still find bytes keys, and arrays still load.
  for (const auto& [k, v] : m.items()) EXPECT_TRUE(k.is(PickleKind::Bytes)) << k.repr();
  EXPECT_EQ(m.get("name_latin1").as_bytes(), "caf\xe9");
  EXPECT_EQ(m.get("bs_style").as_bytes(), "lbs");
  expect_array(io::array_of(m.get("v_template")), kSmplArrays[0]);
  EXPECT_EQ(m.get("J_regressor").as_sparse().to_dense().sizes(), (Shape{4, 6}));
}

TEST(Pickle, TextOpcodesOfProtocolZero) {
  EXPECT_EQ(parse("S'a\\x41\\n\\'\\101'\n.").as_str(), "aA\n'A");
  EXPECT_TRUE(parse("I01\n.").as_bool());
  EXPECT_EQ(parse("I-42\n.").as_int(), -42);
  EXPECT_EQ(parse("L12345678901234L\n.").as_int(), 12345678901234LL);
  EXPECT_EQ(parse("F-0.25\n.").as_double(), -0.25);
  EXPECT_EQ(parse("V\\u20ac\\U0001f600x\n.").as_str(), "\xe2\x82\xac\xf0\x9f\x98\x80x");
  PickleValue d = parse("(dp0\nS'k'\np1\n(lp2\nI1\naI2\nasg1\ng2\ns.");
  EXPECT_EQ(d.get("k").size(), 2u);
}

TEST(Pickle, DictKeysCompareAsPython) {
  // {1: 'a'} then d[True] = 'b' and d[1.0] = 'c' overwrite the same entry.
  PickleValue d = parse(
      "\x80\x02}(K\x01X\x01\x00\x00\x00"
      "a\x88X\x01\x00\x00\x00"
      "bG\x3f\xf0\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00"
      "cu.");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d.items()[0].second.as_str(), "c");
  EXPECT_NE(io_error([] { parse("\x80\x02}]K\x01s."); }).find("unhashable"), std::string::npos);
}

TEST(Pickle, PersistentIdsGoThroughTheCallback) {
  io::UnpickleOptions opt;
  std::string seen;
  opt.persistent_load = [&](io::PickleArena& arena, const PickleValue& pid) {
    seen += pid.as_str() + ";";
    return arena.integer(static_cast<int64_t>(pid.as_str().size()));
  };
  PickleValue v = parse(
      "(Pabc\nX\x02\x00\x00\x00"
      "xyQt.",
      opt);
  EXPECT_EQ(seen, "abc;xy;");
  EXPECT_EQ(v[0].as_int(), 3);
  EXPECT_EQ(v[1].as_int(), 2);
  EXPECT_NE(io_error([] { parse("Pabc\n."); }).find("persistent"), std::string::npos);
}

TEST(Pickle, DisallowedGlobalIsNamed) {
  std::string err = io_error([] { load("evil_os_system.pkl"); });
  EXPECT_NE(err.find("global 'os.system' is not allowed"), std::string::npos) << err;
  err = io_error([] {
    parse(
        "\x80\x04\x8c\x08"
        "builtins\x8c\x04"
        "eval\x93.");
  });
  EXPECT_NE(err.find("'builtins.eval' is not allowed"), std::string::npos) << err;
  // An empty allow-list refuses even numpy.
  io::PickleGlobals none;
  io::UnpickleOptions opt;
  opt.globals = &none;
  err = io_error([&] { load("plain_p2.pkl", opt); });
  EXPECT_NE(err.find("is not allowed"), std::string::npos) << err;
}

TEST(Pickle, HostileInputsFailCleanly) {
  struct Case {
    const char* file;
    const char* message;
  };
  const Case cases[] = {
      {"deep_marks.pkl", "nesting deeper than"},
      {"truncated.pkl", "truncated"},
      {"huge_length.pkl", "exceeds"},
      {"bad_memo.pkl", "memo index 5 was never stored"},
      {"big_int.pkl", "does not fit in 64 bits"},
      {"huge_array.pkl", "larger than the input"},
  };
  for (const Case& c : cases) {
    std::string err = io_error([&] { load(c.file); });
    EXPECT_NE(err.find(c.message), std::string::npos) << c.file << ": " << err;
    EXPECT_NE(err.find(c.file), std::string::npos) << "the path is named: " << err;
  }
  std::string err = io_error([] { parse(std::string("\x80\x02\xff.", 4)); });
  EXPECT_NE(err.find("unknown opcode 0xff"), std::string::npos) << err;
  EXPECT_NE(err.find("offset 2"), std::string::npos) << err;
  EXPECT_NE(io_error([] { parse("\x80\x02\x82\x01."); }).find("EXT1"), std::string::npos);
  EXPECT_NE(io_error([] { parse(""); }).find("truncated"), std::string::npos);
  EXPECT_NE(io_error([] { parse("\x80\x02."); }).find("empty stack"), std::string::npos);
  EXPECT_NE(io_error([] { parse("\x80\x02K\x01K\x02R."); }).find("not a tuple"), std::string::npos);
}

TEST(Pickle, MemoReferencesCannotAmplifyMemory) {
  // One 1 MiB buffer, then 2000 arrays built from it through memo references (~20 input
  // bytes each): 2 GiB of arrays from 1 MiB of pickle. The copies are budgeted.
  const uint32_t n = 1 << 20;
  std::string p = "\x80\x04";
  p += std::string("\x8c\x12") + "numpy.core.numeric" + "\x8c\x0b" + "_frombuffer" + "\x93\x94";  // memo 0
  p += std::string("\x8c\x05") + "numpy" + "\x8c\x05" + "dtype" + "\x93\x8c\x02" + "u1" + "\x89\x88\x87R\x94";
  p += "\x8e" + std::string(reinterpret_cast<const char*>(&n), 4) + std::string(4, '\0');  // BINBYTES8
  p += std::string(n, 'z') + "\x94";                                                       // memo 2
  p += "J" + std::string(reinterpret_cast<const char*>(&n), 4) + "\x85\x94";               // memo 3: (n,)
  p += "\x8c\x01"
       "C\x94";  // memo 4
  p += "](";
  const char kItem[] = "h\x00(h\x02h\x01h\x03h\x04tR";  // _frombuffer(buf, dtype, (n,), 'C')
  const std::string item(kItem, sizeof(kItem) - 1);
  for (int i = 0; i < 2000; ++i) p += item;
  p += "e.";
  std::string err = io_error([&] { parse(p); });
  EXPECT_NE(err.find("out of proportion to the input"), std::string::npos) << err;
  // The same with a few arrays is fine, and they are the buffer's bytes.
  std::string few = p.substr(0, p.size() - 2000 * item.size() - 2);
  for (int i = 0; i < 3; ++i) few += item;
  PickleValue v = parse(few + "e.");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2].as_tensor().numel(), n);
  EXPECT_EQ(v[2].as_tensor().to_vector<int64_t>()[n - 1], 'z');
}

TEST(Pickle, DeepButFlatEncodedNestingLoads) {
  // 3000 lists nested by APPEND (no MARKs): the tree is fine; rendering it stays bounded.
  PickleValue v = load("deep_lists.pkl");
  int depth = 0;
  for (PickleValue cur = v; cur.size() == 1; cur = cur[0]) ++depth;
  EXPECT_EQ(depth, 2999);
  EXPECT_LT(v.repr(200).size(), 300u);
}

TEST(Pickle, FuzzMutationsOfFixtures) {
  const char* seeds[] = {"plain_p0.pkl", "plain_p2.pkl", "plain_p4.pkl", "plain_p5.pkl", "smpl_py2.pkl"};
  uint64_t s = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 2685821657736338717ULL;
  };
  int runs = 0;
  for (const char* name : seeds) {
    std::vector<uint8_t> seed = fixture_bytes(name);
    for (int i = 0; i < 400; ++i, ++runs) {
      std::vector<uint8_t> b = seed;
      int edits = 1 + static_cast<int>(next() % 4);
      for (int e = 0; e < edits && !b.empty(); ++e) {
        size_t pos = next() % b.size();
        switch (next() % 5) {
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
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<uint8_t>(next()));
            break;
          case 4:
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos));
            break;
        }
      }
      ASSERT_EQ(fuzz::fuzz_pickle(b.data(), b.size()), 0) << name << " mutation " << i;
    }
  }
  EXPECT_EQ(runs, 2000);
}
