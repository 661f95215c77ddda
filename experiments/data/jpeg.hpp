// data/jpeg.hpp — JPEG decoding and encoding through libjpeg-turbo's TurboJPEG
// API (the 2.x functions tjDecompress2 / tjCompress2 of Debian's 2.1.5).
//
// A coder holds one TurboJPEG handle and is not thread-safe: give each thread
// its own (the prefetcher and the synthetic generator do).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace logitloss::experiments::celeba {

// An interleaved 8-bit RGB image, rows top to bottom, no padding.
struct rgb_image {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;  // width * height * 3
};

class jpeg_decoder {
public:
    jpeg_decoder();
    ~jpeg_decoder();
    jpeg_decoder(const jpeg_decoder&) = delete;
    jpeg_decoder& operator=(const jpeg_decoder&) = delete;

    // Decodes a whole JPEG (greyscale ones are expanded to RGB) into `image`,
    // reusing its storage. Throws celeba::error naming `source` and carrying
    // TurboJPEG's own message. libjpeg's warnings are errors too: a
    // truncated file otherwise decodes "successfully", its missing part
    // grey.
    void decode(const std::uint8_t* data, std::size_t size, const std::string& source, rgb_image& image);

private:
    void* handle_;
};

class jpeg_encoder {
public:
    jpeg_encoder();
    ~jpeg_encoder();
    jpeg_encoder(const jpeg_encoder&) = delete;
    jpeg_encoder& operator=(const jpeg_encoder&) = delete;

    // Baseline JPEG, 4:2:0 chroma subsampling (the common camera and PIL
    // default), quality 1..100. The result replaces the contents of `out`.
    void encode(const std::uint8_t* rgb, int width, int height, int quality, std::vector<std::uint8_t>& out);

private:
    void* handle_;
};

}  // namespace logitloss::experiments::celeba
