// hmr/data/annotations: SPIN-style .npz files written by numpy (tests/fixtures/make_data_fixtures.py)
// load with the values its formulas give, bad files fail at open time naming the key and shapes,
// our writer round-trips, and OpenPose / COCO JSON, polygon masks and RLE decode as worked by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "hmr/data/annotations.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/zip.h"
#include "support.h"

using namespace hmr;
using namespace hmr::data;
using hmr::testing::error_message;

namespace {

std::string fixture(const std::string& name) {
  return std::string(HMR_SOURCE_DIR) + "/tests/fixtures/data/" + name;
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "hmr_data_ann_" + name; }

std::vector<float> values(const Tensor& t) { return t.contiguous().to_vector<float>(); }

// An image root holding empty files for the fixture's three names (only existence is checked).
std::string make_image_root(const std::string& tag, int count = 3) {
  namespace fs = std::filesystem;
  fs::path root = temp_path("images_" + tag);
  fs::remove_all(root);
  fs::create_directories(root / "images");
  const char* names[] = {"images/im0001.jpg", "images/im0002.jpg", "images/caf\xc3\xa9_3.jpg"};
  for (int i = 0; i < count; ++i) std::ofstream(root / names[i]).put('x');
  return root.string();
}

void expect_fixture_values(const DatasetAnnotations& a) {
  ASSERT_EQ(a.size(), 3);
  EXPECT_EQ(a.imgname[0], "images/im0001.jpg");
  EXPECT_EQ(a.imgname[2], "images/caf\xc3\xa9_3.jpg");  // U+00E9 as UTF-8
  EXPECT_EQ(a.center.sizes(), (Shape{3, 2}));
  EXPECT_EQ(a.center.dtype(), DType::F32);
  EXPECT_EQ(values(a.center), (std::vector<float>{100, 50, 101, 52, 102, 54}));  // [100 + i, 50 + 2i]
  EXPECT_EQ(values(a.scale), (std::vector<float>{1.5f, 1.75f, 2.0f}));           // 1.5 + 0.25 i
  ASSERT_TRUE(a.part.has_value());
  EXPECT_EQ(a.part->sizes(), (Shape{3, 24, 3}));
  std::vector<float> part = values(*a.part);
  EXPECT_FLOAT_EQ(part[1 * 72 + 5 * 3 + 2], (72 + 15 + 2) / 10.0f);  // arange / 10
  ASSERT_TRUE(a.pose && a.shape && a.has_smpl);
  EXPECT_FLOAT_EQ(values(*a.pose)[2 * 72 + 71], (2 * 72 + 71) / 100.0f);
  EXPECT_EQ(values(*a.shape)[0], -5.0f);
  EXPECT_EQ(values(*a.has_smpl), (std::vector<float>{1, 0, 1}));
  EXPECT_FALSE(a.openpose.has_value());
  EXPECT_EQ(a.gender, (std::vector<std::string>{"m", "f", "m"}));
  ASSERT_TRUE(a.extra.contains("valid"));
  EXPECT_EQ(a.extra.at("valid").dtype(), DType::Bool);
}

}  // namespace

TEST(NpyStrings, NumpyUnicodeArrayReadsAsUtf8) {
  io::ZipReader zip = io::ZipReader::open(fixture("spin_small.npz"));
  std::vector<uint8_t> b = zip.read("imgname.npy");
  ASSERT_TRUE(io::npy_is_string_array(b.data(), b.size(), "imgname"));
  io::NpyStrings s = io::npy_strings_from_bytes(b.data(), b.size(), "imgname");
  EXPECT_EQ(s.shape, (Shape{3}));
  EXPECT_EQ(s.values[1], "images/im0002.jpg");
  std::vector<uint8_t> c = zip.read("center.npy");
  EXPECT_FALSE(io::npy_is_string_array(c.data(), c.size(), "center"));
  EXPECT_NE(error_message([&] { io::npy_strings_from_bytes(c.data(), c.size(), "center"); }).find("'<f8'"),
            std::string::npos);
}

TEST(NpyStrings, WriterMatchesNumpyLayout) {
  // numpy.array(["ab", "\u00e9"]) is '<U2': each element 2 little-endian UTF-32 code points.
  std::vector<uint8_t> b = io::npy_strings_to_bytes({{2}, {"ab", "\xc3\xa9"}});
  const std::vector<uint8_t> payload = {'a', 0, 0, 0, 'b', 0, 0, 0, 0xE9, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_GE(b.size(), payload.size());
  EXPECT_EQ(std::vector<uint8_t>(b.end() - 16, b.end()), payload);
  EXPECT_EQ((b.size() - 16) % 64, 0u);  // data starts 64-aligned like numpy's
  std::string header(b.begin() + 10, b.end() - 16);
  EXPECT_NE(header.find("'descr': '<U2'"), std::string::npos) << header;
  io::NpyStrings back = io::npy_strings_from_bytes(b.data(), b.size(), "x");
  EXPECT_EQ(back.values, (std::vector<std::string>{"ab", "\xc3\xa9"}));
  EXPECT_NE(error_message([] {
              io::npy_strings_to_bytes({{1}, {"\xff"}});
            }).find("not valid UTF-8"),
            std::string::npos);
}

TEST(DatasetNpz, SpinLayoutWrittenByNumpyLoads) {
  DatasetAnnotations a = load_dataset_npz(fixture("spin_small.npz"), make_image_root("ok"));
  expect_fixture_values(a);
  EXPECT_FALSE(a.S.has_value());
  EXPECT_TRUE(a.maskname.empty());
  expect_fixture_values(load_dataset_npz(fixture("spin_small_compressed.npz"), "", false));
}

TEST(DatasetNpz, MissingImagesFailAtOpenWithCountAndNames) {
  std::string root = make_image_root("missing", 1);
  std::string msg = error_message([&] { load_dataset_npz(fixture("spin_small.npz"), root); });
  EXPECT_NE(msg.find("2 of 3 images are missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("images/im0002.jpg"), std::string::npos) << msg;
  EXPECT_THROW(load_dataset_npz(fixture("spin_small.npz"), root), IOError);
}

TEST(DatasetNpz, WrongRowShapeNamesKeyExpectedAndFound) {
  std::string msg = error_message([] { load_dataset_npz(fixture("spin_bad_part.npz"), "", false); });
  EXPECT_NE(msg.find("'part'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 24, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 14, 3]"), std::string::npos) << msg;
  EXPECT_THROW(load_dataset_npz(fixture("spin_bad_part.npz"), "", false), ShapeError);
  msg = error_message([] { load_dataset_npz(fixture("spin_short_scale.npz"), "", false); });
  EXPECT_NE(msg.find("'scale'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
}

TEST(DatasetNpz, MissingRequiredKeyIsNamed) {
  std::string msg = error_message([] { load_dataset_npz(fixture("spin_no_center.npz"), "", false); });
  EXPECT_NE(msg.find("center"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("imgname"), std::string::npos) << msg;
  EXPECT_THROW(load_dataset_npz(fixture("spin_no_center.npz"), "", false), IOError);
}

TEST(DatasetNpz, SaveThenLoadRoundTrips) {
  DatasetAnnotations a = load_dataset_npz(fixture("spin_small.npz"), "", false);
  a.S = Tensor::from_vector(std::vector<float>(3 * 24 * 4, 0.25f), {3, 24, 4});
  a.maskname = {"m0.png", "m1.png", "m2.png"};
  std::string path = temp_path("roundtrip.npz");
  save_dataset_npz(path, a);
  DatasetAnnotations b = load_dataset_npz(path, "", false);
  expect_fixture_values(b);
  ASSERT_TRUE(b.S.has_value());
  EXPECT_EQ(values(*b.S), values(*a.S));
  EXPECT_EQ(b.maskname, a.maskname);
  std::remove(path.c_str());
}

TEST(DatasetNpz, SaveRefusesInconsistentRows) {
  DatasetAnnotations a = load_dataset_npz(fixture("spin_small.npz"), "", false);
  a.pose = Tensor::from_vector(std::vector<float>(2 * 72, 0.f), {2, 72});
  std::string msg = error_message([&] { save_dataset_npz(temp_path("bad.npz"), a); });
  EXPECT_NE(msg.find("'pose'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 72]"), std::string::npos) << msg;
  a.pose.reset();
  a.gender = {"m"};
  EXPECT_THROW(save_dataset_npz(temp_path("bad.npz"), a), ShapeError);
}

TEST(DatasetNpz, NumpyReadsWhatWeWrite) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 has no numpy";
  DatasetAnnotations a = load_dataset_npz(fixture("spin_small.npz"), "", false);
  std::string path = temp_path("for_numpy.npz");
  save_dataset_npz(path, a);
  // numpy itself checks the names, dtypes and values against the fixture's formulas.
  std::string check =
      "import numpy as np, sys; d = np.load(sys.argv[1]); "
      "assert d['imgname'].dtype.kind == 'U' and d['imgname'][2] == 'images/caf\\u00e9_3.jpg'; "
      "assert list(d['gender']) == ['m', 'f', 'm']; "
      "assert d['center'].dtype == np.float32 and (d['center'][:, 1] == [50, 52, 54]).all(); "
      "assert d['part'].shape == (3, 24, 3) and 'valid' in d.files";
  std::string cmd = "/usr/bin/python3 -c \"" + check + "\" " + path;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::remove(path.c_str());
}

TEST(DatasetNpz, ExtraArraysMustHaveNRows) {
  DatasetAnnotations a = load_dataset_npz(fixture("spin_small.npz"), "", false);
  a.extra.set("valid", Tensor::from_vector(std::vector<float>{1, 1}, {2}));
  std::string msg = error_message([&] { validate_annotations(a, "x"); });
  EXPECT_NE(msg.find("'valid'"), std::string::npos) << msg;
  EXPECT_THROW(validate_annotations(a, "x"), ShapeError);
}

TEST(NpyStrings, ZeroLengthDtypeIsRefused) {
  // A '<U0' header with a vast shape must fail, not allocate.
  std::string header = "{'descr': '<U0', 'fortran_order': False, 'shape': (1000000000000,), }";
  header += std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
  std::string bytes =
      std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8);
  bytes += header;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  std::string msg = error_message([&] { io::npy_strings_from_bytes(p, bytes.size(), "u0"); });
  EXPECT_NE(msg.find("length 0"), std::string::npos) << msg;
}

TEST(DatasetNpz, SpinFileTable) {
  EXPECT_STREQ(find_dataset_file("3dpw", "test").file, "3dpw_test.npz");
  EXPECT_STREQ(find_dataset_file("h36m", "train").file, "h36m_train.npz");
  EXPECT_STREQ(find_dataset_file("mpi-inf-3dhp", "test").file, "mpi_inf_3dhp_valid.npz");
  std::string msg = error_message([] { find_dataset_file("3dpw", "train"); });
  EXPECT_NE(msg.find("known: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("coco/train"), std::string::npos) << msg;
}

TEST(OpenPoseJson, PeopleBecomeRowsOf25Joints) {
  Tensor k = load_openpose_json(fixture("openpose_two.json"));
  ASSERT_EQ(k.sizes(), (Shape{2, 25, 3}));
  std::vector<float> v = values(k);
  EXPECT_EQ(v[3 * 7 + 1], 22.0f);            // person 0: value k at flat index k
  EXPECT_EQ(v[75 + 3 * 24 + 2], 0.5f * 74);  // person 1: 0.5 k
  std::string msg = error_message([] { load_openpose_json(fixture("openpose_body18.json")); });
  EXPECT_NE(msg.find("people[1].pose_keypoints_2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds 54"), std::string::npos) << msg;
  Tensor none = openpose_keypoints(io::parse_json(R"({"people": []})"), "empty");
  EXPECT_EQ(none.sizes(), (Shape{0, 25, 3}));
}

TEST(CocoJson, ImagesAnnotationsAndSegmentations) {
  std::string kp;
  for (int i = 0; i < 51; ++i) kp += (i ? "," : "") + std::to_string(i);
  io::Json doc = io::parse_json(R"({
    "images": [{"id": 7, "file_name": "000007.jpg", "width": 4, "height": 3}],
    "annotations": [
      {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "area": 6.0, "bbox": [1, 1, 3, 2],
       "keypoints": [)" + kp + R"(], "num_keypoints": 17,
       "segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]]},
      {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 4, 3],
       "segmentation": {"counts": [1, 2, 9], "size": [3, 4]}}]})",
                                "coco");
  CocoDataset d = parse_coco(doc, "coco");
  ASSERT_EQ(d.images.size(), 1u);
  EXPECT_EQ(d.images[0].file_name, "000007.jpg");
  EXPECT_EQ(d.images[0].height, 3);
  ASSERT_EQ(d.annotations.size(), 2u);
  const CocoAnnotation& a = d.annotations[0];
  EXPECT_EQ(a.bbox, (std::vector<double>{1, 1, 3, 2}));
  ASSERT_TRUE(a.keypoints.has_value());
  EXPECT_EQ(a.keypoints->sizes(), (Shape{17, 3}));
  EXPECT_EQ(values(*a.keypoints)[16 * 3 + 2], 50.0f);
  // Rectangle x in [1, 4], y in [1, 3]: centres x = 1.5, 2.5, 3.5 and y = 1.5, 2.5 are inside.
  EXPECT_EQ(values(annotation_mask(a, 3, 4)), (std::vector<float>{0, 0, 0, 0,  //
                                                                  0, 1, 1, 1,  //
                                                                  0, 1, 1, 1}));
  const CocoAnnotation& crowd = d.annotations[1];
  EXPECT_TRUE(crowd.iscrowd);
  // Column-major runs: 1 zero, 2 ones (column 0 rows 1-2), 9 zeros.
  EXPECT_EQ(values(annotation_mask(crowd, 3, 4)), (std::vector<float>{0, 0, 0, 0,  //
                                                                      1, 0, 0, 0,  //
                                                                      1, 0, 0, 0}));
  EXPECT_THROW(annotation_mask(crowd, 4, 3), ShapeError);
  std::string bad = R"({"annotations": [{"id": 3, "image_id": 7, "keypoints": [1, 2, 3]}]})";
  std::string msg = error_message([&] { parse_coco(io::parse_json(bad), "bad.json"); });
  EXPECT_NE(msg.find("keypoints should hold 51"), std::string::npos) << msg;
}

TEST(CocoMask, TriangleByPixelCentres) {
  // Right triangle (0,0), (4,0), (0,4): centre (x+.5, y+.5) inside when x + y + 1 < 4.
  Tensor m = rasterize_polygons({{0, 0, 4, 0, 0, 4}}, 4, 4);
  EXPECT_EQ(values(m), (std::vector<float>{1, 1, 1, 0,  //
                                           1, 1, 0, 0,  //
                                           1, 0, 0, 0,  //
                                           0, 0, 0, 0}));
  EXPECT_THROW(rasterize_polygons({{0, 0, 1, 1}}, 2, 2), ValueError);
}

TEST(CocoMask, RleErrors) {
  EXPECT_THROW(decode_rle({{1, 2}, 2, 2}), ValueError);     // covers 3 of 4 pixels
  EXPECT_THROW(decode_rle({{1, 2, 5}, 2, 2}), ValueError);  // overflows
}

TEST(CocoMask, CompressedRleStringByHand) {
  // pycocotools' alphabet: value + 48 per 5-bit group, 0x20 = more groups, 0x10 in the last = negative;
  // from the 4th run on the stored value is the difference to the run two before.
  // [3, 2, 4, 1]: '3' '2' '4', then 1 - 2 = -1 -> 31 + 48 = 'O'.
  EXPECT_EQ(decode_rle_string("324O"), (std::vector<int64_t>{3, 2, 4, 1}));
  // 40 = 8 + (1 << 5): group 8 | 0x20 -> 'X', then 1 -> '1'.
  EXPECT_EQ(decode_rle_string("X1"), (std::vector<int64_t>{40}));
  EXPECT_THROW(decode_rle_string("X"), ValueError);  // a continuation with nothing after it
  EXPECT_THROW(decode_rle_string(" "), ValueError);  // below the alphabet
}
