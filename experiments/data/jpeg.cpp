// data/jpeg.cpp — TurboJPEG wrappers; see jpeg.hpp.
#include "jpeg.hpp"

#include <limits>

#include <turbojpeg.h>

#include "error.hpp"

namespace logitloss::experiments::celeba {

namespace {

std::string turbojpeg_message(tjhandle handle) {
    const char* message = tjGetErrorStr2(handle);
    return message != nullptr ? message : "unknown TurboJPEG error";
}

tjhandle checked(tjhandle handle, const char* what) {
    if (handle == nullptr)
        throw error(std::string(what) + " failed: " + turbojpeg_message(nullptr));
    return handle;
}

}  // namespace

jpeg_decoder::jpeg_decoder() : handle_(checked(tjInitDecompress(), "tjInitDecompress")) {}

jpeg_decoder::~jpeg_decoder() { tjDestroy(static_cast<tjhandle>(handle_)); }

void jpeg_decoder::decode(const std::uint8_t* data, std::size_t size, const std::string& source, rgb_image& image) {
    const auto handle = static_cast<tjhandle>(handle_);
    if (size == 0)
        throw error(source + ": empty file, not a JPEG");
    // TurboJPEG takes the size as unsigned long; a JPEG above 4 GiB is not a
    // CelebA image anyway.
    if (size > std::numeric_limits<unsigned int>::max())
        throw error(source + ": " + std::to_string(size) + " bytes, too large for a JPEG image");
    const auto jpeg_size = static_cast<unsigned long>(size);

    int width = 0;
    int height = 0;
    int subsampling = 0;
    int colorspace = 0;
    if (tjDecompressHeader3(handle, data, jpeg_size, &width, &height, &subsampling, &colorspace) != 0)
        throw error(source + ": cannot read the JPEG header (" + turbojpeg_message(handle) + ", file of " +
                    std::to_string(size) + " bytes)");
    if (width <= 0 || height <= 0)
        throw error(source + ": JPEG header gives an empty image");

    image.width = width;
    image.height = height;
    image.pixels.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
    // libjpeg reports truncated or corrupt entropy data as a warning and pads
    // the image with grey; decoding stops there. Going on past a warning is
    // not offered: TurboJPEG then returns -1 with the code TJERR_WARNING
    // even where a fatal error followed and part of `image` was never
    // written (it would hold the previous image's pixels).
    if (tjDecompress2(handle, data, jpeg_size, image.pixels.data(), width, 0, height, TJPF_RGB,
                      TJFLAG_STOPONWARNING) != 0)
        throw error(source + ": cannot decode the JPEG (" + turbojpeg_message(handle) + ", file of " +
                    std::to_string(size) + " bytes)");
}

jpeg_encoder::jpeg_encoder() : handle_(checked(tjInitCompress(), "tjInitCompress")) {}

jpeg_encoder::~jpeg_encoder() { tjDestroy(static_cast<tjhandle>(handle_)); }

void jpeg_encoder::encode(const std::uint8_t* rgb, int width, int height, int quality,
                          std::vector<std::uint8_t>& out) {
    const auto handle = static_cast<tjhandle>(handle_);
    // tjBufSize is the worst case for any content, so the encoder never has
    // to grow the buffer: it can be ours (TJFLAG_NOREALLOC) and be reused.
    const unsigned long capacity = tjBufSize(width, height, TJSAMP_420);
    if (capacity == static_cast<unsigned long>(-1))
        throw error("tjBufSize failed: " + turbojpeg_message(nullptr));
    out.resize(capacity);
    unsigned char* buffer = out.data();
    unsigned long size = capacity;
    if (tjCompress2(handle, rgb, width, 0, height, TJPF_RGB, &buffer, &size, TJSAMP_420, quality,
                    TJFLAG_NOREALLOC) != 0)
        throw error("JPEG encoding failed: " + turbojpeg_message(handle));
    out.resize(size);
}

}  // namespace logitloss::experiments::celeba
