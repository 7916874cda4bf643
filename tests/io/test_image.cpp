// io/image: images written by Pillow (tests/fixtures/make_io_fixtures.py) decode to the
// script's pixel formula; PNG round trips are exact, JPEG ones close; bad tensors and bad files
// are typed errors naming the file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "io/image.h"
#include "io/npy.h"
#include "support.h"
#include "tests/io/io_testing.h"

using namespace hmr;
using hmr::testing::error_message;
using hmr::testing::io_fixture;
using hmr::testing::read_bytes;

namespace {

// The script's image_pixels: (y * 40 + x * 13 + k * 85) % 256.
uint8_t pixel(int64_t y, int64_t x, int64_t k) {
  return static_cast<uint8_t>((y * 40 + x * 13 + k * 85) % 256);
}

Tensor pattern(int64_t h, int64_t w, int64_t c) {
  std::vector<uint8_t> v;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) v.push_back(pixel(y, x, k));
  return Tensor::from_vector(v, {h, w, c});
}

// Luma as stb computes it for RGB -> grey: (77 r + 150 g + 29 b) >> 8.
uint8_t stb_luma(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 77 + g * 150 + b * 29) >> 8);
}

}  // namespace

TEST(IoImage, ReadsPillowPngAndBmp) {
  Tensor rgb = io::read_image(io_fixture("pil_rgb.png"));
  EXPECT_EQ(rgb.dtype(), DType::U8);
  EXPECT_EQ(rgb.sizes(), (Shape{5, 7, 3}));
  EXPECT_EQ(rgb.to_vector<uint8_t>(), pattern(5, 7, 3).to_vector<uint8_t>());
  Tensor rgba = io::read_image(io_fixture("pil_rgba.png"), 0);
  EXPECT_EQ(rgba.sizes(), (Shape{5, 7, 4}));
  EXPECT_EQ(rgba.to_vector<uint8_t>(), pattern(5, 7, 4).to_vector<uint8_t>());
  Tensor grey = io::read_image(io_fixture("pil_grey.png"), 0);
  EXPECT_EQ(grey.sizes(), (Shape{5, 7, 1}));
  EXPECT_EQ(grey.to_vector<uint8_t>(), pattern(5, 7, 1).to_vector<uint8_t>());
  Tensor bmp = io::read_image(io_fixture("pil_rgb.bmp"));
  EXPECT_EQ(bmp.to_vector<uint8_t>(), pattern(4, 6, 3).to_vector<uint8_t>());
}

TEST(IoImage, ChannelConversionOnRead) {
  // Grey -> RGB replicates the level; RGBA -> RGB drops alpha; RGB -> grey uses stb's luma.
  Tensor grey3 = io::read_image(io_fixture("pil_grey.png"), 3);
  std::vector<uint8_t> g = grey3.to_vector<uint8_t>();
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x)
      for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(g[(y * 7 + x) * 3 + k], pixel(y, x, 0));
  EXPECT_EQ(io::read_image(io_fixture("pil_rgba.png")).to_vector<uint8_t>(),
            pattern(5, 7, 3).to_vector<uint8_t>());
  std::vector<uint8_t> l = io::read_image(io_fixture("pil_rgb.png"), 1).to_vector<uint8_t>();
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x)
      EXPECT_EQ(l[y * 7 + x], stb_luma(pixel(y, x, 0), pixel(y, x, 1), pixel(y, x, 2)));
}

TEST(IoImage, JpegDecodesCloseToPillow) {
  Tensor ours = io::read_image(io_fixture("pil_smooth.jpg"));
  Tensor pillow = io::load_npy(io_fixture("pil_smooth_decoded.npy"));
  ASSERT_EQ(ours.sizes(), pillow.sizes());
  std::vector<int64_t> a = ours.to_vector<int64_t>(), b = pillow.to_vector<int64_t>();
  int64_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  EXPECT_LE(worst, 3);  // IDCT and chroma upsampling differ between decoders by a level or two
}

TEST(IoImage, PngRoundTripIsExactForEveryChannelCount) {
  hmr::testing::ScratchDir dir;
  for (int64_t c : {1, 2, 3, 4}) {
    Tensor img = pattern(9, 11, c);
    std::string path = dir.file("x.png");
    io::write_png(path, img);
    EXPECT_EQ(io::read_image(path, 0).to_vector<uint8_t>(), img.to_vector<uint8_t>()) << c;
  }
  // (H, W) is grey; a transposed view is written in logical order.
  Tensor base = pattern(6, 4, 1);
  Tensor view = Tensor::make_view(base.storage(), {4, 6}, {1, 4}, 0, DType::U8);
  Tensor back = io::decode_image(io::encode_png(view).data(), io::encode_png(view).size(), "mem", 0);
  EXPECT_EQ(back.sizes(), (Shape{4, 6, 1}));
  std::vector<uint8_t> v = back.to_vector<uint8_t>();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(v[i * 6 + j], pixel(j, i, 0));
}

TEST(IoImage, JpegRoundTripIsClose) {
  hmr::testing::ScratchDir dir;
  std::vector<uint8_t> smooth;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      for (int k = 0; k < 3; ++k) smooth.push_back(static_cast<uint8_t>(y * 4 + x * 2 + k * 20));
  Tensor img = Tensor::from_vector(smooth, {32, 32, 3});
  std::string path = dir.file("x.jpg");
  io::write_jpeg(path, img, 95);
  std::vector<uint8_t> back = io::read_image(path).to_vector<uint8_t>();
  double err = 0;
  for (size_t i = 0; i < back.size(); ++i) err += std::abs(int(back[i]) - int(smooth[i]));
  EXPECT_LT(err / back.size(), 2.0);
  // Lower quality: smaller file.
  EXPECT_LT(io::encode_jpeg(img, 10).size(), io::encode_jpeg(img, 95).size());
}

TEST(IoImage, BadTensorsAreTypedErrors) {
  EXPECT_THROW(io::encode_png(Tensor::empty({4, 4, 3}, DType::F32)), DTypeError);
  EXPECT_THROW(io::encode_png(Tensor::empty({4, 4, 5}, DType::U8)), ShapeError);
  EXPECT_THROW(io::encode_png(Tensor::empty({0, 4, 3}, DType::U8)), ShapeError);
  EXPECT_THROW(io::encode_png(Tensor::empty({4}, DType::U8)), ShapeError);
  EXPECT_THROW(io::encode_jpeg(pattern(2, 2, 3), 0), ValueError);
  std::string msg = error_message([] { io::write_png("/tmp/out.png", Tensor::empty({2, 2}, DType::I64)); });
  EXPECT_NE(msg.find("/tmp/out.png"), std::string::npos) << msg;
  EXPECT_THROW(io::read_image(io_fixture("pil_rgb.png"), 5), ValueError);
}

TEST(IoImage, BadFilesNameTheFileAndStbsReason) {
  std::string path = io_fixture("handmade.safetensors");
  std::string msg = error_message([&] { io::read_image(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot be decoded: "), std::string::npos) << msg;
  EXPECT_THROW(io::read_image("/nonexistent.png"), IOError);
  std::vector<uint8_t> png = read_bytes(io_fixture("pil_rgb.png"));
  // Cuts into the pixel data fail; stb does not need the final 12-byte IEND chunk.
  for (size_t n = 0; n + 12 < png.size(); ++n) {
    std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(io::decode_image(cut.data(), cut.size(), "cut"), IOError) << n;
  }
}

TEST(IoImage, HugeDeclaredDimensionsAreRefusedBeforeDecoding) {
  std::vector<uint8_t> png = read_bytes(io_fixture("pil_rgb.png"));
  // IHDR width and height (big-endian, bytes 16..23) -> 10000 x 10000. stb ignores the now
  // wrong CRC and would allocate 300 MB before finding the data short; we refuse first.
  for (int i : {16, 20}) {
    png[i] = 0;
    png[i + 1] = 0;
    png[i + 2] = 0x27;
    png[i + 3] = 0x10;
  }
  std::string msg = error_message([&] { io::decode_image(png.data(), png.size(), "huge"); });
  EXPECT_NE(msg.find("10000x10000"), std::string::npos) << msg;
}

TEST(IoImage, JpegHuffmanTableWithTooManyCodesIsRefused) {
  // stb 2.27 would write past its tables for this input (see jpeg_huffman_tables_fit).
  std::vector<uint8_t> jpg = read_bytes(io_fixture("pil_smooth.jpg"));
  size_t dht = 0;
  for (size_t i = 2; i + 1 < jpg.size() && dht == 0; ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC4) dht = i;
  ASSERT_GT(dht, 0u);
  for (size_t i = 0; i < 16; ++i) jpg[dht + 5 + i] = 0xFF;  // 16 * 255 codes
  std::string msg = error_message([&] { io::decode_image(jpg.data(), jpg.size(), "dht.jpg"); });
  EXPECT_NE(msg.find("more than 256 codes"), std::string::npos) << msg;
}
