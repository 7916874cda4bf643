// io/file: whole-file reads and atomic writes, in a fresh temporary directory per test.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "io/file.h"
#include "tensor/error.h"

using namespace hmr;

namespace {

class IoFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "hmr_io_XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    for (const std::string& name : entries()) ::unlink((dir_ + "/" + name).c_str());
    ::rmdir(dir_.c_str());
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    return names;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

}  // namespace

TEST_F(IoFile, WriteThenReadRoundTripsBinaryBytes) {
  std::string data("a\0b\xff\n\r", 6);
  io::write_file_atomic(path("x.bin"), data);
  EXPECT_EQ(io::read_file(path("x.bin")), data);
}

TEST_F(IoFile, ReadsWhatAnotherWriterWrote) {
  std::string big(300000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  std::ofstream(path("big"), std::ios::binary) << big;
  EXPECT_EQ(io::read_file(path("big")), big);
}

TEST_F(IoFile, EmptyFile) {
  io::write_file_atomic(path("empty"), "");
  EXPECT_EQ(io::read_file(path("empty")), "");
}

TEST_F(IoFile, OverwriteReplacesContentAndLeavesNoTemporaryFile) {
  io::write_file_atomic(path("ckpt"), std::string(1000, 'x'));
  io::write_file_atomic(path("ckpt"), "short");
  EXPECT_EQ(io::read_file(path("ckpt")), "short");
  EXPECT_EQ(entries(), std::vector<std::string>{"ckpt"});
}

TEST_F(IoFile, NewFileGetsUmaskPermissionsNotPrivateOnes) {
  mode_t mask = ::umask(022);
  io::write_file_atomic(path("f"), "1");
  ::umask(mask);
  struct stat st {};
  ASSERT_EQ(::stat(path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(IoFile, WriteIntoMissingDirectoryThrowsIOErrorNamingThePath) {
  std::string p = path("no/such/dir/f");
  try {
    io::write_file_atomic(p, "1");
    FAIL() << "expected IOError";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(IoFile, FailedRenameLeavesTargetAndNoTemporaryFile) {
  // A directory in the target's place makes rename fail after the data was written.
  ASSERT_EQ(::mkdir(path("target").c_str(), 0755), 0);
  EXPECT_THROW(io::write_file_atomic(path("target"), "data"), IOError);
  EXPECT_EQ(entries(), std::vector<std::string>{"target"});
  ::rmdir(path("target").c_str());
}

TEST_F(IoFile, ReadMissingFileThrowsIOErrorNamingThePath) {
  std::string p = path("missing.npz");
  try {
    io::read_file(p);
    FAIL() << "expected IOError";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST_F(IoFile, ReadDirectoryThrowsIOError) { EXPECT_THROW(io::read_file(dir_), IOError); }
