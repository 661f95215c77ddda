// data/preprocess.cpp — crop, antialiased resize, normalisation; see
// preprocess.hpp for the conventions and why they are these.
#include "preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace logitloss::experiments::celeba {

int center_crop_offset(int size, int crop) {
    if (size < crop)
        throw std::invalid_argument("center_crop_offset: size " + std::to_string(size) + " < crop " +
                                    std::to_string(crop));
    const int margin = size - crop;
    const int half = margin / 2;
    // An odd margin leaves half + 0.5: Python's round goes to the even one of
    // half and half + 1.
    if (margin % 2 == 0)
        return half;
    return half % 2 == 0 ? half : half + 1;
}

crop_origin center_crop(int width, int height, int side) {
    return {center_crop_offset(width, side), center_crop_offset(height, side)};
}

namespace {

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

}  // namespace

resample_weights::resample_weights(int in_size, int out_size) : in_size_(in_size), out_size_(out_size) {
    if (in_size <= 0 || out_size <= 0)
        throw std::invalid_argument("resample_weights: sizes must be positive");
    const double scale = static_cast<double>(in_size) / out_size;
    // Downscaling widens the filter by the scale factor (that is the
    // antialiasing); upscaling keeps plain bilinear interpolation.
    const double filter_scale = std::max(scale, 1.0);
    const double support = filter_scale;

    const auto outs = static_cast<std::size_t>(out_size);
    first_.resize(outs);
    taps_.resize(outs);
    std::vector<std::vector<double>> w(outs);
    for (std::size_t o = 0; o < outs; ++o) {
        const double center = (static_cast<double>(o) + 0.5) * scale;
        // static_cast truncates toward zero, like the int() of PIL and ATen.
        const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
        const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
        double sum = 0.0;
        for (int j = lo; j < hi; ++j) {
            w[o].push_back(triangle((static_cast<double>(j) - center + 0.5) / filter_scale));
            sum += w[o].back();
        }
        for (double& v : w[o])
            v /= sum;
        first_[o] = lo;
        taps_[o] = hi - lo;
        stride_ = std::max(stride_, w[o].size());
    }
    // Every output gets the same number of weights, the unused ones 0, so
    // that the resampling loops have a fixed trip count.
    weights_.assign(outs * stride_, 0.0f);
    for (std::size_t o = 0; o < outs; ++o)
        for (std::size_t t = 0; t < w[o].size(); ++t)
            weights_[o * stride_ + t] = static_cast<float>(w[o][t]);
}

preprocessor::preprocessor(int crop, int out) : resize_(crop, out) {
    const auto crops = static_cast<std::size_t>(crop);
    rows_.resize(static_cast<std::size_t>(image_channels) * crops * static_cast<std::size_t>(out));
    // One crop row as floats, followed by max_taps() zero pixels that the
    // zero weights past the last tap may read.
    line_.assign((crops + resize_.max_taps()) * image_channels, 0.0f);
}

std::size_t preprocessor::out_floats() const {
    const auto side = static_cast<std::size_t>(out_side());
    return static_cast<std::size_t>(image_channels) * side * side;
}

void preprocessor::operator()(const std::uint8_t* rgb, int width, int height, float* out) {
    crop_resize(rgb, width, height, out);
    const std::size_t n = out_floats();
    for (std::size_t i = 0; i < n; ++i) {
        const float v = out[i] * (2.0f / 255.0f) - 1.0f;
        // Selects rather than std::clamp: this form vectorises.
        const float above = v > -1.0f ? v : -1.0f;
        out[i] = above < 1.0f ? above : 1.0f;
    }
}

void preprocessor::crop_resize(const std::uint8_t* rgb, int width, int height, float* out) {
    const int crop = resize_.in_size();
    if (width < crop || height < crop)
        throw std::invalid_argument("preprocessor: a " + std::to_string(width) + "x" + std::to_string(height) +
                                    " image is smaller than the " + std::to_string(crop) + "x" +
                                    std::to_string(crop) + " crop");
    resample_rows(rgb, width, center_crop(width, height, crop));
    resample_columns(out);
}

// Horizontal pass: each of the crop's rows, interleaved 8-bit in, planar
// float out (rows_[channel][crop row][x]), so that the vertical pass runs
// along contiguous rows.
void preprocessor::resample_rows(const std::uint8_t* rgb, int width, crop_origin origin) {
    const auto crop = static_cast<std::size_t>(resize_.in_size());
    const int out = resize_.out_size();
    const auto outs = static_cast<std::size_t>(out);
    const std::size_t plane = crop * outs;
    const std::size_t row_bytes = static_cast<std::size_t>(width) * image_channels;
    const std::size_t taps = resize_.max_taps();
    for (std::size_t r = 0; r < crop; ++r) {
        const std::uint8_t* src = rgb + (static_cast<std::size_t>(origin.top) + r) * row_bytes +
                                  static_cast<std::size_t>(origin.left) * image_channels;
        for (std::size_t k = 0; k < crop * image_channels; ++k)
            line_[k] = static_cast<float>(src[k]);
        float* dst = rows_.data() + r * outs;
        for (int x = 0; x < out; ++x) {
            const float* p = line_.data() + static_cast<std::size_t>(resize_.first(x)) * image_channels;
            const float* w = resize_.weights(x);
            float red = 0.0f;
            float green = 0.0f;
            float blue = 0.0f;
            for (std::size_t t = 0; t < taps; ++t, p += image_channels) {
                red += w[t] * p[0];
                green += w[t] * p[1];
                blue += w[t] * p[2];
            }
            const auto xs = static_cast<std::size_t>(x);
            dst[xs] = red;
            dst[plane + xs] = green;
            dst[2 * plane + xs] = blue;
        }
    }
}

// Vertical pass: output row y is a weighted sum of whole resampled rows.
void preprocessor::resample_columns(float* out) const {
    const auto crop = static_cast<std::size_t>(resize_.in_size());
    const int side = resize_.out_size();
    const auto outs = static_cast<std::size_t>(side);
    for (std::size_t c = 0; c < static_cast<std::size_t>(image_channels); ++c) {
        const float* plane = rows_.data() + c * crop * outs;
        for (int y = 0; y < side; ++y) {
            float* dst = out + (c * outs + static_cast<std::size_t>(y)) * outs;
            std::fill(dst, dst + outs, 0.0f);
            const float* w = resize_.weights(y);
            const float* src = plane + static_cast<std::size_t>(resize_.first(y)) * outs;
            for (int t = 0; t < resize_.taps(y); ++t, src += outs)  // exact taps: rows_ has no padding
                for (std::size_t x = 0; x < outs; ++x)
                    dst[x] += w[t] * src[x];
        }
    }
}

}  // namespace logitloss::experiments::celeba
