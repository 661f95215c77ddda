// data/synth.hpp — a synthetic data set in CelebA's exact on-disk layout, for
// tests and for runs without the real images.
//
// Every image is a cartoon face (skin-toned ellipse with ears, neck, hair,
// eyes, eyebrows, nose and mouth, on a varied background; jittered position,
// size, rotation, colours, lighting and noise) of CelebA's aligned size,
// 178 x 218. The Smiling attribute (column 31) is the only one the picture
// shows: the mouth, 30-42 % of the face width, is an open smile showing
// teeth (label 1) or closed lips, straight to turned down (label 0); its
// size, place, colour and the lighting vary independently of the label, and
// the eyebrows are arcs too, so a network has to find the mouth. The other
// 39 attributes are random +-1. Classes are balanced (probability 1/2 each).
//
// Everything is a function of (seed, image index) through the generator's
// own PRNG (xoshiro256** seeded by splitmix64, never the std:: distributions,
// whose output differs between library versions), so a data set does not
// depend on the thread count and the same seed rewrites the same bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "celeba.hpp"

namespace logitloss::experiments::celeba::synth {

// splitmix64: advances `state` and returns the next output (seeding only).
std::uint64_t splitmix64(std::uint64_t& state);

// xoshiro256** (Blackman and Vigna), state filled by splitmix64.
class rng {
public:
    explicit rng(std::uint64_t seed);
    std::uint64_t next();
    float uniform();                   // [0, 1), 24 random bits
    float uniform(float lo, float hi);  // [lo, hi)
    bool chance(float p);

private:
    std::array<std::uint64_t, 4> s_{};
};

// The independent stream of image `index` for one purpose (attributes,
// picture), derived from the data set's seed.
rng stream(std::uint64_t seed, std::size_t index, std::uint64_t purpose);

using attribute_row = std::array<std::int8_t, attribute_count>;  // each -1 or 1

// Image `index`'s 40 attribute values; [smiling_index] decides its mouth.
attribute_row attributes(std::uint64_t seed, std::size_t index);
inline bool is_smiling(const attribute_row& row) { return row[smiling_index] > 0; }

inline constexpr int width = aligned_width;
inline constexpr int height = aligned_height;
inline constexpr std::size_t image_bytes = static_cast<std::size_t>(width) * height * 3;

// Draws image `index` into rgb[0 .. image_bytes) (interleaved RGB). Keeps a
// float canvas between calls; one renderer per thread.
class renderer {
public:
    void render(std::uint64_t seed, std::size_t index, bool smiling, std::uint8_t* rgb);

private:
    std::vector<float> canvas_;
};

// CelebA's partition proportions, 162,770 / 19,867 / 19,962 of 202,599,
// applied to `count` images in the same contiguous order (train rows first,
// then valid, then test); exact for count = 202,599.
struct partition_sizes {
    std::size_t train = 0;
    std::size_t valid = 0;
    std::size_t test = 0;
};
partition_sizes partition_for(std::size_t count);
split partition_of(std::size_t index, const partition_sizes& sizes);

// "000001.jpg" for index 0: CelebA's names, 1-based, six digits.
std::string image_name(std::size_t index);

// The two list files' contents, formatted as the real ones: line 1 the count,
// line 2 the names (with CelebA's trailing space), values padded to two
// columns (" -1", "  1"); "\n" line ends.
std::string attribute_list(std::uint64_t seed, std::size_t count);
std::string partition_list(std::size_t count);

struct options {
    std::filesystem::path out;
    std::size_t count = 0;
    std::uint64_t seed = 1;
    int quality = 90;
    unsigned threads = 1;
};

struct summary {
    std::size_t images = 0;
    std::size_t smiling = 0;
    partition_sizes partition;
    std::uintmax_t jpeg_bytes = 0;
};

// Writes out/img_align_celeba/*.jpg, out/list_attr_celeba.txt and
// out/list_eval_partition.txt (creating the folders, replacing files of the
// same names). Throws celeba::error naming the file that could not be
// written.
summary write_dataset(const options& opts);

}  // namespace logitloss::experiments::celeba::synth
