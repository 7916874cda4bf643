// stb_image / stb_image_write behind the hmr tensor API. stb is compiled here (static symbols,
// warnings silenced for its code only). Decoding reads the header first and refuses huge
// dimensions before stb allocates for them.
#include "io/image.h"

#include <cstring>
#include <memory>

#include "io/file.h"
#include "io/tensor_bytes.h"

// stb calls memcpy(NULL, p, 0) for a PNG whose first IDAT chunk is empty: harmless on every
// libc, but undefined behaviour that the sanitizer build reports. Its copies go through this.
static inline void* stb_memcpy_allowing_null_when_empty(void* dst, const void* src, size_t n) {
  return n == 0 ? dst : std::memcpy(dst, src, n);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define memcpy stb_memcpy_allowing_null_when_empty
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS (1 << 16)
#include "stb_image.h"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include "stb_image_write.h"
#undef memcpy
#pragma GCC diagnostic pop

namespace hmr::io {

namespace {

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

struct ImageGeometry {
  int height, width, channels;
};

// Checks an image tensor for the encoders and returns its geometry.
ImageGeometry check_image(const Tensor& image, const char* op, const std::string& label) {
  HMR_CHECK(image.dtype() == DType::U8, DTypeError, op, ": '", label, "': expected a uint8 image but found ",
            image.dtype());
  HMR_CHECK(image.dim() == 2 || (image.dim() == 3 && image.size(2) >= 1 && image.size(2) <= 4), ShapeError,
            op, ": '", label, "': expected an image of shape (H, W, C) with C in 1..4 or (H, W) but found ",
            image.sizes());
  HMR_CHECK(
      image.size(0) > 0 && image.size(1) > 0 && image.size(0) <= (1 << 16) && image.size(1) <= (1 << 16),
      ShapeError, op, ": '", label, "': image size ", image.sizes(),
      " is empty or above 65536 pixels a side");
  return {static_cast<int>(image.size(0)), static_cast<int>(image.size(1)),
          image.dim() == 3 ? static_cast<int>(image.size(2)) : 1};
}

// stb_image 2.27 (Debian's libstb, 2022) trusts a JPEG DHT segment's 16 code counts: when they
// sum above 256 it writes past its Huffman tables (fixed upstream in 2.28). Every FF C4 byte
// pair is checked as a DHT segment, as stb would read it (zeros past the end); checking all of
// them, not only those a marker walk reaches, can refuse a valid file only if some other
// segment happens to contain FF C4 followed by impossible counts.
bool jpeg_huffman_tables_fit(const uint8_t* d, size_t n) {
  if (n < 2 || d[0] != 0xFF || d[1] != 0xD8) return true;
  auto byte = [&](size_t i) -> int { return i < n ? d[i] : 0; };
  for (size_t p = 2; p + 1 < n; ++p) {
    if (d[p] != 0xFF || d[p + 1] != 0xC4) continue;
    int length = (byte(p + 2) << 8 | byte(p + 3)) - 2;
    size_t q = p + 4;
    while (length > 0) {
      int count = 0;
      for (int i = 0; i < 16; ++i) count += byte(q + 1 + i);
      if (count > 256) return false;
      q += 17 + static_cast<size_t>(count);
      length -= 17 + count;
    }
  }
  return true;
}

}  // namespace

Tensor decode_image(const uint8_t* data, size_t size, const std::string& label, int channels,
                    int64_t max_pixels) {
  HMR_CHECK(channels >= 0 && channels <= 4, ValueError, "read_image: channels must be 0..4 but is ",
            channels);
  HMR_CHECK(size > 0 && size <= static_cast<size_t>(INT32_MAX), IOError, "read_image: '", label,
            "' is empty or larger than 2 GiB");
  HMR_CHECK(jpeg_huffman_tables_fit(data, size), IOError, "read_image: '", label,
            "' cannot be decoded: corrupt JPEG (a Huffman table holds more than 256 codes)");
  int w = 0, h = 0, file_channels = 0;
  int len = static_cast<int>(size);
  HMR_CHECK(stbi_info_from_memory(data, len, &w, &h, &file_channels), IOError, "read_image: '", label,
            "' cannot be decoded: ", stb_reason());
  HMR_CHECK(w > 0 && h > 0 && int64_t{w} * h <= max_pixels, IOError, "read_image: '", label, "' declares ", w,
            "x", h, " pixels, above the limit of ", max_pixels);
  int got_w = 0, got_h = 0;
  std::unique_ptr<stbi_uc, StbFree> pixels(
      stbi_load_from_memory(data, len, &got_w, &got_h, &file_channels, channels));
  HMR_CHECK(pixels != nullptr, IOError, "read_image: '", label, "' cannot be decoded: ", stb_reason());
  HMR_CHECK(got_w == w && got_h == h, IOError, "read_image: '", label, "' changed size while decoding");
  int c = channels == 0 ? file_channels : channels;
  size_t n = static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(c);
  return tensor_from_bytes(pixels.get(), n, {h, w, c}, DType::U8, label);
}

Tensor read_image(const std::string& path, int channels) {
  std::string bytes = read_file(path);
  return decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path, channels);
}

namespace {

// Encodes with stb; label (the destination path, or "<memory>") names the image in errors.
std::vector<uint8_t> encode(const Tensor& image, bool png, int quality, const std::string& label) {
  const char* op = png ? "write_png" : "write_jpeg";
  ImageGeometry g = check_image(image, op, label);
  HMR_CHECK(png || (quality >= 1 && quality <= 100), ValueError, "write_jpeg: '", label,
            "': quality must be 1..100 but is ", quality);
  std::vector<uint8_t> pixels = contiguous_bytes(image);
  std::vector<uint8_t> out;
  int ok =
      png ? stbi_write_png_to_func(append_bytes, &out, g.width, g.height, g.channels, pixels.data(),
                                   g.width * g.channels)
          : stbi_write_jpg_to_func(append_bytes, &out, g.width, g.height, g.channels, pixels.data(), quality);
  HMR_CHECK(ok != 0, IOError, op, ": stb could not encode the ", image.sizes(), " image for '", label, "'");
  return out;
}

}  // namespace

std::vector<uint8_t> encode_png(const Tensor& image) { return encode(image, true, 0, "<memory>"); }

std::vector<uint8_t> encode_jpeg(const Tensor& image, int quality) {
  return encode(image, false, quality, "<memory>");
}

void write_png(const std::string& path, const Tensor& image) {
  std::vector<uint8_t> bytes = encode(image, true, 0, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

void write_jpeg(const std::string& path, const Tensor& image, int quality) {
  std::vector<uint8_t> bytes = encode(image, false, quality, path);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace hmr::io
