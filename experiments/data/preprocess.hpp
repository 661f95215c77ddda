// data/preprocess.hpp — the image transform of the original CelebA experiment,
// torchvision's CenterCrop(160) -> Resize(128) -> ToTensor -> Normalize(0.5,
// 0.5), on an interleaved 8-bit RGB image, producing planar (CHW) float32.
//
// Crop: torchvision places the crop at top = int(round((h - 160) / 2.0)),
// left = int(round((w - 160) / 2.0)) with Python's round, which rounds halves
// to even; the same rule is used here (178 x 218 -> left 9, top 29; an odd
// margin such as 163 - 160 = 3 gives 2, 165 - 160 = 5 gives 2).
//
// Resize: antialiased bilinear, as PIL's BILINEAR resize and torchvision's
// Resize(antialias=True) compute it: output pixel o of a scale s = in/out
// downscale is centred on input coordinate c = (o + 0.5) s and averages the
// input pixels j in [int(c - s + 0.5), int(c + s + 0.5)) with the triangle
// filter 1 - |(j + 0.5 - c) / s|, the weights normalised to sum 1 (160 ->
// 128: two or three taps). The two axes are resampled one after the other
// (rows first, as PIL does), with precomputed weights. The arithmetic is float; PIL would round the result (and its
// intermediate rows) to 8 bits, torchvision on a float tensor would not.
//
// Normalise: (v / 255 - 0.5) / 0.5, computed as v * (2 / 255) - 1 and clamped
// to [-1, 1] (the clamp only removes float rounding: the weights are
// non-negative and sum to 1, so the exact result is always inside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace logitloss::experiments::celeba {

inline constexpr int crop_side = 160;
inline constexpr int image_side = 128;
inline constexpr int image_channels = 3;
inline constexpr std::size_t image_floats =
    static_cast<std::size_t>(image_channels) * image_side * image_side;  // 49,152

// The offset of a centred crop of `crop` pixels in `size` (size >= crop),
// rounding a half-pixel margin to even as torchvision does.
int center_crop_offset(int size, int crop);

struct crop_origin {
    int left = 0;
    int top = 0;
};
crop_origin center_crop(int width, int height, int side);

// The 1-D antialiased bilinear weights of an in_size -> out_size resampling
// (see the file comment). Output pixel o reads taps(o) input pixels from
// first(o) on, with weights(o)[0 .. taps(o)); weights(o) continues with zeros
// up to max_taps().
class resample_weights {
public:
    resample_weights(int in_size, int out_size);

    int in_size() const { return in_size_; }
    int out_size() const { return out_size_; }
    int first(int o) const { return first_[static_cast<std::size_t>(o)]; }
    int taps(int o) const { return taps_[static_cast<std::size_t>(o)]; }
    const float* weights(int o) const { return weights_.data() + static_cast<std::size_t>(o) * stride_; }
    std::size_t max_taps() const { return stride_; }

private:
    int in_size_;
    int out_size_;
    std::size_t stride_ = 0;  // the most taps of any output pixel
    std::vector<int> first_;
    std::vector<int> taps_;
    std::vector<float> weights_;  // out_size * stride_, zero-padded
};

// The crop -> resize -> normalise transform with its weights and scratch
// rows; one per thread.
class preprocessor {
public:
    explicit preprocessor(int crop = crop_side, int out = image_side);

    int out_side() const { return resize_.out_size(); }
    std::size_t out_floats() const;

    // rgb: width x height interleaved RGB, both sides >= the crop (checked:
    // std::invalid_argument). out: 3 x out x out planar floats in [-1, 1].
    void operator()(const std::uint8_t* rgb, int width, int height, float* out);

    // The same without the normalisation: values on the 0..255 scale.
    void crop_resize(const std::uint8_t* rgb, int width, int height, float* out);

private:
    void resample_rows(const std::uint8_t* rgb, int width, crop_origin origin);
    void resample_columns(float* out) const;

    resample_weights resize_;
    std::vector<float> rows_;  // 3 x crop x out: every crop row resampled horizontally
    std::vector<float> line_;  // one crop row as floats, zero-padded
};

}  // namespace logitloss::experiments::celeba
