// data/celeba.hpp — the CelebA data set as distributed (aligned-and-cropped
// JPEGs, list_attr_celeba.txt, list_eval_partition.txt), one binary attribute
// as the label, images preprocessed as in the original experiment (see
// preprocess.hpp), and a prefetcher that decodes batches on worker threads.
//
// No dependency on LibTorch: images come out as float32 CHW buffers, labels
// as 0/1 floats, ready for torch::from_blob.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "error.hpp"
#include "jpeg.hpp"
#include "preprocess.hpp"

namespace logitloss::experiments::celeba {

// The 40 attributes in the order of list_attr_celeba.txt line 2. The reader
// requires exactly this header: a file with other columns is not CelebA's.
inline constexpr std::size_t attribute_count = 40;
inline constexpr std::array<std::string_view, attribute_count> attribute_names = {
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young"};

namespace detail {
// A std::array initialiser may fall short of its size; every name must be there.
constexpr bool all_named() {
    for (const std::string_view name : attribute_names)
        if (name.empty())
            return false;
    return true;
}
}  // namespace detail
static_assert(detail::all_named());

// The experiment's label; the index is where the original code found it
// (column 31 counting from 0). The reader looks attributes up by name.
inline constexpr std::string_view smiling = "Smiling";
inline constexpr std::size_t smiling_index = 31;
static_assert(attribute_names[smiling_index] == smiling);

// The aligned images' size, and the file and folder names under the root.
inline constexpr int aligned_width = 178;
inline constexpr int aligned_height = 218;
inline constexpr std::string_view images_folder = "img_align_celeba";
inline constexpr std::string_view attributes_file = "list_attr_celeba.txt";
inline constexpr std::string_view partition_file = "list_eval_partition.txt";

// The values of list_eval_partition.txt; `all` takes every row.
enum class split { train = 0, valid = 1, test = 2, all = 3 };
const char* split_name(split s);

struct options {
    std::string attribute{smiling};
    // true: every image must be 178 x 218 (pointing the reader at the
    // in-the-wild img_celeba folder by mistake fails at once). false: any
    // image of at least 160 x 160 is accepted and centre-cropped.
    bool require_aligned_size = true;
    // Check when opening that every image of the split exists (one stat per
    // file), rather than failing at its first load in the middle of a run.
    bool check_images_exist = true;
    // libjpeg's warnings (truncated or corrupt data, which it pads with grey)
    // are always errors: TurboJPEG reports a fatal error that follows a
    // warning with the warning's code, so an image "decoded with warnings"
    // cannot be told from one that was not decoded at all.
};

// Per-thread decoding state: JPEG decoder, file buffer, decoded image and
// the preprocessor's weights and rows. dataset::load without one uses a
// thread_local instance.
class image_loader {
public:
    image_loader() = default;

private:
    friend class dataset;
    jpeg_decoder decoder_;
    preprocessor preprocess_;
    std::vector<std::uint8_t> file_;
    rgb_image image_;
};

class dataset {
public:
    // Reads and checks both lists under `root`; throws celeba::error.
    dataset(const std::filesystem::path& root, split which, const options& opts = {});

    std::size_t size() const { return names_.size(); }
    split which() const { return split_; }
    const std::filesystem::path& root() const { return root_; }
    // The attribute's column in list_attr_celeba.txt (31 for Smiling).
    std::size_t attribute_index() const { return attribute_index_; }
    const std::string& attribute() const { return options_.attribute; }

    // 1 where the attribute is 1 in the file, 0 where it is -1.
    int label(std::size_t i) const { return labels_.at(i); }
    const std::string& file_name(std::size_t i) const { return names_.at(i); }
    std::filesystem::path image_path(std::size_t i) const;
    // The row's line number in list_attr_celeba.txt (1-based), for messages.
    std::size_t attribute_line(std::size_t i) const { return lines_.at(i); }

    // Decodes and preprocesses image i into out[0 .. image_floats): 3 x 128 x
    // 128 floats, channel-major (R plane, G plane, B plane), rows top to
    // bottom, in [-1, 1]. Thread-safe (the dataset is only read).
    void load(std::size_t i, float* out) const;
    void load(std::size_t i, float* out, image_loader& loader) const;

private:
    void read_attributes(const std::filesystem::path& file, std::vector<std::int8_t>& splits_by_row);
    void read_partition(const std::filesystem::path& file, std::vector<std::int8_t>& splits_by_row) const;
    void keep_split(std::vector<std::int8_t>& splits_by_row);
    void check_images_exist() const;
    void read_file(const std::filesystem::path& path, std::size_t i, std::vector<std::uint8_t>& bytes) const;
    void check_size(const std::filesystem::path& path, const rgb_image& image) const;

    std::filesystem::path root_;
    split split_;
    options options_;
    std::size_t attribute_index_ = 0;
    std::vector<std::string> names_;
    std::vector<std::uint8_t> labels_;
    std::vector<std::size_t> lines_;
};

// One batch: images[k * image_floats ...] is image k, labels[k] its label,
// indices[k] its index in the dataset.
struct batch {
    std::vector<float> images;
    std::vector<float> labels;
    std::vector<std::size_t> indices;
    std::size_t size() const { return labels.size(); }
};

// Decodes the images of `order` (dataset indices, in the order the caller
// wants them: shuffle before) in batches of `batch_size` (the last one may be
// smaller) on `threads` worker threads, up to `depth` batches ahead of the
// consumer. Batches come out in order and with identical contents whatever
// the thread count. An error while loading an image is rethrown by the next()
// that reaches its batch (and by every next() after it). The destructor
// stops and joins the workers, also when the consumer stops early. The
// dataset must outlive the prefetcher.
class prefetcher {
public:
    prefetcher(const dataset& data, std::vector<std::size_t> order, std::size_t batch_size, unsigned threads,
               std::size_t depth = 2);
    ~prefetcher();
    prefetcher(const prefetcher&) = delete;
    prefetcher& operator=(const prefetcher&) = delete;

    // Fills `out` (its buffers are swapped with the prefetcher's, so passing
    // the same batch back every time allocates nothing) and returns true, or
    // returns false after the last batch.
    bool next(batch& out);

    std::size_t batch_count() const { return batch_count_; }

private:
    struct slot {
        std::vector<float> images;
        std::size_t done = 0;  // images loaded or failed
        std::size_t first_failed = 0;
        std::exception_ptr failure;
    };

    void work();
    bool claim(std::size_t& position, float*& out);
    void finish(std::size_t position, std::exception_ptr failure);
    std::size_t batch_size_of(std::size_t b) const;
    slot& slot_of(std::size_t b) { return slots_[b % slots_.size()]; }

    const dataset& data_;
    const std::vector<std::size_t> order_;
    const std::size_t batch_size_;
    const std::size_t batch_count_;

    std::mutex mutex_;
    std::condition_variable slot_free_;
    std::condition_variable batch_ready_;
    std::vector<slot> slots_;
    std::size_t next_position_ = 0;  // the next image of order_ to claim
    std::size_t consumed_ = 0;       // batches handed out by next()
    bool stopping_ = false;
    std::exception_ptr failure_;  // the first failure next() has rethrown
    std::vector<std::thread> workers_;
};

}  // namespace logitloss::experiments::celeba
