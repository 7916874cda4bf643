// Image files <-> u8 tensors of shape (H, W, C), row-major, channels last (what the HMR crop
// and render code works on). Decoding and encoding go through stb (PNG, JPEG and BMP only, to
// keep the decoder's attack surface small). Errors name the file and stb's reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::io {

// Above this many pixels (8192 x 8192) a header is treated as hostile rather than allocated for.
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// channels: 3 (default) converts to RGB, 1/2/4 to grey/grey+alpha/RGBA, 0 keeps the file's own
// channel count. 16-bit PNGs are reduced to 8 bits.
Tensor read_image(const std::string& path, int channels = 3);
Tensor decode_image(const uint8_t* data, size_t size, const std::string& label, int channels = 3,
                    int64_t max_pixels = kMaxImagePixels);

// image: u8 (H, W, C) with C in 1..4, or (H, W) for grey; any strides, any device. Written
// atomically. JPEG quality is 1..100 and drops any alpha channel.
void write_png(const std::string& path, const Tensor& image);
void write_jpeg(const std::string& path, const Tensor& image, int quality = 90);
std::vector<uint8_t> encode_png(const Tensor& image);
std::vector<uint8_t> encode_jpeg(const Tensor& image, int quality = 90);

}  // namespace hmr::io
