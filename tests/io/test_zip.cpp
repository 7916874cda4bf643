// io/zip: round trips through our writer, archives written by Python's zipfile
// (tests/fixtures/make_io_fixtures.py), and hostile archives that must throw IOError.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/zip.h"
#include "support.h"
#include "tests/io/io_testing.h"

using namespace hmr;
using hmr::io::ZipReader;
using hmr::io::ZipWriter;
using hmr::testing::error_message;
using hmr::testing::io_fixture;
using hmr::testing::read_bytes;

namespace {

// The fixture script's ramp(n): byte i is i % 251.
std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 251);
  return v;
}

std::vector<uint8_t> as_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// An archive with one stored, one deflated and one 64-aligned member.
std::vector<uint8_t> sample_archive(bool zip64 = false) {
  ZipWriter w("unused.zip");
  w.force_zip64(zip64);
  std::vector<uint8_t> a = ramp(1000);
  std::string text = repeat("compressible ", 100);
  w.add("a.bin", a.data(), a.size());
  w.add("dir/text.txt", text.data(), text.size(), /*deflate=*/true);
  w.add("aligned.bin", a.data(), 77, false, 64);
  return w.finish_to_bytes();
}

uint32_t le32_at(const std::vector<uint8_t>& b, size_t pos) {
  return b[pos] | (b[pos + 1] << 8) | (b[pos + 2] << 16) | (static_cast<uint32_t>(b[pos + 3]) << 24);
}

}  // namespace

TEST(IoZip, RoundTripStoredDeflatedAndAligned) {
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "plain");
    ZipReader r = ZipReader::from_bytes(sample_archive(zip64), "sample");
    ASSERT_EQ(r.entries().size(), 3u);
    EXPECT_EQ(r.entries()[0].name, "a.bin");
    EXPECT_EQ(r.entries()[0].method, 0);
    EXPECT_EQ(r.entries()[1].method, 8);
    EXPECT_LT(r.entries()[1].compressed_size, r.entries()[1].size);
    EXPECT_EQ(r.read("a.bin"), ramp(1000));
    EXPECT_EQ(r.read("dir/text.txt"), as_bytes(repeat("compressible ", 100)));
    const io::ZipEntry* aligned = r.find("aligned.bin");
    ASSERT_NE(aligned, nullptr);
    EXPECT_EQ(aligned->offset_of_data % 64, 0u);
    std::vector<uint8_t> first77 = ramp(77);
    EXPECT_EQ(r.read(*aligned), first77);
    EXPECT_EQ(std::memcmp(r.stored_data(*aligned), first77.data(), 77), 0);
    EXPECT_EQ(r.find("missing"), nullptr);
  }
}

TEST(IoZip, ZipWriterUsesZip64RecordsWhenForced) {
  std::vector<uint8_t> b = sample_archive(true);
  // End record fields are saturated, so the zip64 end record must have been used.
  size_t end = b.size() - 22;
  ASSERT_EQ(le32_at(b, end), 0x06054b50u);
  EXPECT_EQ(le32_at(b, end + 16), 0xFFFFFFFFu);
  ASSERT_EQ(le32_at(b, end - 20), 0x07064b50u);
}

TEST(IoZip, CloseWritesTheFileAndOpenMapsIt) {
  hmr::testing::ScratchDir dir;
  std::string path = dir.file("x.zip");
  ZipWriter w(path);
  std::vector<uint8_t> a = ramp(300);
  w.add("x", a.data(), a.size(), true);
  w.close();
  ZipReader r = ZipReader::open(path);
  EXPECT_EQ(r.read("x"), a);
  ZipReader copy = r;  // copies share the mapping
  EXPECT_EQ(copy.read("x"), a);
  EXPECT_NE(error_message([&] { w.close(); }).find("already closed"), std::string::npos);
}

TEST(IoZip, EmptyArchiveAndEmptyMember) {
  ZipWriter w("unused");
  ZipReader empty = ZipReader::from_bytes(w.finish_to_bytes(), "empty");
  EXPECT_TRUE(empty.entries().empty());
  ZipWriter w2("unused");
  w2.add("nothing", nullptr, 0, true);
  ZipReader r = ZipReader::from_bytes(w2.finish_to_bytes(), "one");
  EXPECT_TRUE(r.read("nothing").empty());
}

TEST(IoZip, ReadsArchiveWrittenByPythonZipfile) {
  ZipReader r = ZipReader::open(io_fixture("python_stored_deflated.zip"));
  ASSERT_EQ(r.entries().size(), 3u);
  EXPECT_EQ(r.read("stored.bin"), ramp(1000));
  EXPECT_EQ(r.find("dir/deflated.txt")->method, 8);
  EXPECT_EQ(r.read("dir/deflated.txt"), as_bytes(repeat("hello zip ", 50)));
  EXPECT_TRUE(r.read("empty").empty());
}

TEST(IoZip, ReadsPythonZip64Members) {
  ZipReader r = ZipReader::open(io_fixture("python_zip64.zip"));
  EXPECT_EQ(r.read("a.bin"), ramp(300));
  EXPECT_EQ(r.read("b.bin"), ramp(5000));
}

TEST(IoZip, ErrorsNameThePathAndTheProblem) {
  std::string msg = error_message([] { ZipReader::open("/nonexistent/dir/a.zip"); });
  EXPECT_NE(msg.find("/nonexistent/dir/a.zip"), std::string::npos) << msg;
  msg = error_message([] { ZipReader::from_bytes(as_bytes(repeat("not a zip at all ", 4)), "junk"); });
  EXPECT_NE(msg.find("junk"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a zip"), std::string::npos) << msg;
  ZipReader r = ZipReader::from_bytes(sample_archive(), "sample");
  msg = error_message([&] { r.read("nope"); });
  EXPECT_NE(msg.find("no entry named 'nope'"), std::string::npos) << msg;
  EXPECT_THROW(r.stored_data(*r.find("dir/text.txt")), IOError);
}

TEST(IoZip, CrcMismatchIsAnError) {
  std::vector<uint8_t> b = sample_archive();
  ZipReader clean = ZipReader::from_bytes(b, "clean");
  b[clean.find("a.bin")->offset_of_data + 10] ^= 0x01;
  ZipReader r = ZipReader::from_bytes(b, "flipped");
  std::string msg = error_message([&] { r.read("a.bin"); });
  EXPECT_NE(msg.find("CRC mismatch"), std::string::npos) << msg;
}

TEST(IoZip, DeclaredSizesThatLieAreErrorsNotAllocations) {
  std::vector<uint8_t> b = sample_archive();
  ZipReader clean = ZipReader::from_bytes(b, "clean");
  // Patch the central directory's uncompressed size of the deflated member to 4 GiB - 2.
  size_t cd = le32_at(b, b.size() - 22 + 16);
  size_t second = cd + 46 + clean.entries()[0].name.size();
  ASSERT_EQ(le32_at(b, second), 0x02014b50u);
  for (uint32_t lie : {0xFFFFFFFEu, 10u, 1301u}) {
    std::vector<uint8_t> bad = b;
    for (int i = 0; i < 4; ++i) bad[second + 24 + i] = static_cast<uint8_t>(lie >> (8 * i));
    ZipReader r = ZipReader::from_bytes(bad, "lying");
    EXPECT_EQ(r.find("dir/text.txt")->size, lie);
    EXPECT_THROW(r.read("dir/text.txt"), IOError) << lie;
  }
  // A stored member whose two sizes disagree.
  std::vector<uint8_t> bad = b;
  bad[cd + 24] ^= 0x01;
  EXPECT_THROW(ZipReader::from_bytes(bad, "stored").read("a.bin"), IOError);
}

TEST(IoZip, DuplicateNamesAreRejectedByReaderAndWriter) {
  ZipWriter w("unused");
  w.add("same", "a", 1);
  EXPECT_THROW(w.add("same", "b", 1), IOError);
  ZipWriter two("unused");
  two.add("aaaa", "1", 1);
  two.add("bbbb", "2", 1);
  std::vector<uint8_t> b = two.finish_to_bytes();
  // Rename the second member to "aaaa" in the central directory.
  size_t cd = le32_at(b, b.size() - 22 + 16);
  size_t second = cd + 46 + 4;
  ASSERT_EQ(le32_at(b, second), 0x02014b50u);
  std::memcpy(&b[second + 46], "aaaa", 4);
  EXPECT_THROW(ZipReader::from_bytes(b, "dups"), IOError);
}

TEST(IoZip, EveryTruncationThrowsIOError) {
  std::vector<uint8_t> b = read_bytes(io_fixture("python_stored_deflated.zip"));
  // Every proper prefix must fail: cutting into the comment makes the end record's comment
  // length overrun the file, and any shorter cut loses the end record itself.
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(
        {
          ZipReader r = ZipReader::from_bytes(cut, "cut");
          for (const auto& e : r.entries()) r.read(e);
        },
        IOError)
        << "truncated to " << n << " bytes";
  }
}

TEST(IoZip, EveryFlippedByteEitherThrowsOrReadsCorrectData) {
  std::vector<uint8_t> b = sample_archive();
  ZipReader clean = ZipReader::from_bytes(b, "clean");
  int survived = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    std::vector<uint8_t> bad = b;
    bad[i] ^= 0xA5;
    try {
      ZipReader r = ZipReader::from_bytes(bad, "flip");
      for (const auto& e : r.entries()) {
        std::vector<uint8_t> got = r.read(e);
        // Flips in fields we ignore (dates, attributes, padding) must not change any data.
        if (clean.find(e.name)) {
          EXPECT_EQ(got, clean.read(e.name)) << "flip at " << i;
        }
      }
      ++survived;
    } catch (const IOError&) {
    }
  }
  EXPECT_GT(survived, 0);
  EXPECT_LT(survived, static_cast<int>(b.size()));
}
