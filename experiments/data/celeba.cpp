// data/celeba.cpp — the CelebA list parsers, image loading and the
// prefetcher; see celeba.hpp.
#include "celeba.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace logitloss::experiments::celeba {

namespace fs = std::filesystem;

const char* split_name(split s) {
    switch (s) {
    case split::train: return "train";
    case split::valid: return "valid";
    case split::test: return "test";
    case split::all: return "all";
    }
    return "?";
}

namespace {

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using file_handle = std::unique_ptr<std::FILE, file_closer>;

// Reads a whole file into `bytes`; on failure returns the errno text.
bool read_whole_file(const fs::path& path, std::vector<std::uint8_t>& bytes, std::string& why) {
    errno = 0;
    file_handle f(std::fopen(path.c_str(), "rb"));
    if (!f) {
        why = std::strerror(errno);
        return false;
    }
    bytes.clear();
    std::uint8_t chunk[1 << 14];
    for (;;) {
        const std::size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
        bytes.insert(bytes.end(), chunk, chunk + n);
        if (n < sizeof chunk)
            break;
    }
    if (std::ferror(f.get()) != 0) {
        why = "read error";
        return false;
    }
    return true;
}

std::string read_text_file(const fs::path& path) {
    std::vector<std::uint8_t> bytes;
    std::string why;
    if (!read_whole_file(path, bytes, why))
        throw error("cannot open '" + path.string() + "' (" + why + ")");
    return std::string(bytes.begin(), bytes.end());
}

// The lines of a text file, without their "\n" or "\r\n" (both occur in
// copies of the CelebA lists), numbered from 1.
class line_reader {
public:
    explicit line_reader(std::string_view text) : text_(text) {}

    bool next(std::string_view& line) {
        if (pos_ >= text_.size())
            return false;
        std::size_t end = text_.find('\n', pos_);
        if (end == std::string_view::npos)
            end = text_.size();
        line = text_.substr(pos_, end - pos_);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        pos_ = end + 1;
        ++number_;
        return true;
    }
    std::size_t number() const { return number_; }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t number_ = 0;
};

// Splits on runs of spaces and tabs: the real list_attr_celeba.txt pads the
// values to two columns ("  1" beside " -1").
void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
    fields.clear();
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        if (i > start)
            fields.push_back(line.substr(start, i - start));
    }
}

// The data rows of a list: every line from `first_row` on, blank lines
// allowed only at the end of the file.
class row_reader {
public:
    row_reader(std::string_view text, std::string where) : lines_(text), where_(std::move(where)) {}

    // The next line before `first_row` (the headers), blank or not.
    bool header(std::string_view& line) { return lines_.next(line); }

    bool next(std::vector<std::string_view>& fields) {
        std::string_view line;
        while (lines_.next(line)) {
            split_fields(line, fields);
            if (fields.empty()) {
                if (blank_ == 0)
                    blank_ = lines_.number();
                continue;
            }
            if (blank_ != 0)
                throw error(where_ + ":" + std::to_string(blank_) + ": blank line before the last row");
            return true;
        }
        return false;
    }
    std::size_t line() const { return lines_.number(); }
    std::string at() const { return where_ + ":" + std::to_string(lines_.number()) + ": "; }

private:
    line_reader lines_;
    std::string where_;
    std::size_t blank_ = 0;
};

// s in quotes; beyond 80 bytes, its start and its length (a file with no
// line breaks where there should be is one line: its text would make a
// message of megabytes). The cut may fall inside a UTF-8 sequence.
std::string in_quotes(std::string_view s) {
    constexpr std::size_t most = 80;
    if (s.size() <= most)
        return "'" + std::string(s) + "'";
    return "'" + std::string(s.substr(0, most)) + "...' (" + std::to_string(s.size()) + " bytes)";
}

bool plain_file_name(std::string_view name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
           name.find('\\') == std::string_view::npos;
}

std::size_t parse_count(std::string_view line, const std::string& where) {
    std::vector<std::string_view> fields;
    split_fields(line, fields);
    std::size_t count = 0;
    bool ok = fields.size() == 1 && fields[0].size() <= 12;
    if (ok)
        for (const char c : fields[0]) {
            if (c < '0' || c > '9') {
                ok = false;
                break;
            }
            count = count * 10 + static_cast<std::size_t>(c - '0');
        }
    if (!ok)
        throw error(where + ":1: expected the number of images, found " + in_quotes(line));
    return count;
}

void check_attribute_header(std::string_view line, const std::string& where) {
    std::vector<std::string_view> names;
    split_fields(line, names);
    if (names.size() != attribute_count)
        throw error(where + ":2: expected CelebA's " + std::to_string(attribute_count) + " attribute names, found " +
                    std::to_string(names.size()));
    for (std::size_t k = 0; k < attribute_count; ++k)
        if (names[k] != attribute_names[k])
            throw error(where + ":2: attribute " + std::to_string(k) + " is " + in_quotes(names[k]) + ", CelebA's is " +
                        in_quotes(attribute_names[k]));
}

std::size_t find_attribute(const std::string& name, const std::string& where) {
    const auto it = std::find(attribute_names.begin(), attribute_names.end(), name);
    if (it == attribute_names.end()) {
        std::string known;
        for (const auto n : attribute_names)
            known += (known.empty() ? "" : " ") + std::string(n);
        throw error("attribute " + in_quotes(name) + " is not in " + where + " line 2 (" + known + ")");
    }
    return static_cast<std::size_t>(it - attribute_names.begin());
}

}  // namespace

// ---- dataset -------------------------------------------------------------

dataset::dataset(const fs::path& root, split which, const options& opts)
    : root_(root), split_(which), options_(opts) {
    std::error_code ec;
    if (!fs::is_directory(root_, ec))
        throw error("root " + in_quotes(root_.string()) + " is not a directory");
    const fs::path images = root_ / images_folder;
    if (!fs::is_directory(images, ec))
        throw error(in_quotes(images.string()) + " is not a directory (expected the JPEGs there)");

    std::vector<std::int8_t> splits_by_row;
    read_attributes(root_ / attributes_file, splits_by_row);
    read_partition(root_ / partition_file, splits_by_row);
    keep_split(splits_by_row);
    if (options_.check_images_exist)
        check_images_exist();
}

void dataset::read_attributes(const fs::path& file, std::vector<std::int8_t>& splits_by_row) {
    const std::string where = file.string();
    const std::string text = read_text_file(file);
    row_reader rows(text, where);
    std::string_view line;
    if (!rows.header(line))
        throw error(where + ": empty file");
    const std::size_t declared = parse_count(line, where);
    if (!rows.header(line))
        throw error(where + ": no attribute names (line 2)");
    check_attribute_header(line, where);
    attribute_index_ = find_attribute(options_.attribute, where);

    std::unordered_map<std::string_view, std::size_t> seen;
    seen.reserve(declared);
    std::vector<std::string_view> fields;
    while (rows.next(fields)) {
        if (fields.size() != attribute_count + 1)
            throw error(rows.at() + "expected a file name and " + std::to_string(attribute_count) +
                        " values, found " + std::to_string(fields.size()) + " fields");
        if (!plain_file_name(fields[0]))
            throw error(rows.at() + in_quotes(fields[0]) + " is not a plain file name");
        const auto [it, fresh] = seen.emplace(fields[0], rows.line());
        if (!fresh)
            throw error(rows.at() + in_quotes(fields[0]) + " is listed twice (first at line " +
                        std::to_string(it->second) + ")");
        for (std::size_t k = 0; k < attribute_count; ++k) {
            const std::string_view v = fields[k + 1];
            if (v != "1" && v != "-1")
                throw error(rows.at() + "attribute " + std::to_string(k) + " (" + std::string(attribute_names[k]) +
                            ") is " + in_quotes(v) + ", expected -1 or 1");
        }
        names_.emplace_back(fields[0]);
        labels_.push_back(fields[attribute_index_ + 1] == "1" ? 1 : 0);
        lines_.push_back(rows.line());
    }
    if (names_.size() != declared)
        throw error(where + ":1: says " + std::to_string(declared) + " images, the file has " +
                    std::to_string(names_.size()) + " rows");
    splits_by_row.assign(names_.size(), -1);
}

void dataset::read_partition(const fs::path& file, std::vector<std::int8_t>& splits_by_row) const {
    const std::string where = file.string();
    const std::string text = read_text_file(file);
    row_reader rows(text, where);
    std::vector<std::string_view> fields;
    std::size_t r = 0;
    while (rows.next(fields)) {
        if (fields.size() != 2)
            throw error(rows.at() + "expected a file name and a partition (0, 1 or 2), found " +
                        std::to_string(fields.size()) + " fields");
        if (r >= names_.size())
            throw error(rows.at() + "more rows than the " + std::to_string(names_.size()) + " images of " +
                        std::string(attributes_file));
        if (fields[0] != names_[r])
            throw error(rows.at() + in_quotes(fields[0]) + " where " + std::string(attributes_file) + " line " +
                        std::to_string(lines_[r]) + " has " + in_quotes(names_[r]) +
                        " (both lists must name the same images in the same order)");
        const std::string_view p = fields[1];
        if (p.size() != 1 || p[0] < '0' || p[0] > '2')
            throw error(rows.at() + "partition " + in_quotes(p) + ", expected 0 (train), 1 (valid) or 2 (test)");
        splits_by_row[r++] = static_cast<std::int8_t>(p[0] - '0');
    }
    if (r != names_.size())
        throw error(where + ": " + std::to_string(r) + " rows, " + std::string(attributes_file) + " has " +
                    std::to_string(names_.size()));
}

void dataset::keep_split(std::vector<std::int8_t>& splits_by_row) {
    if (split_ == split::all)
        return;
    const auto wanted = static_cast<std::int8_t>(split_);
    std::size_t kept = 0;
    for (std::size_t r = 0; r < names_.size(); ++r)
        if (splits_by_row[r] == wanted) {
            if (kept != r) {  // a string moved onto itself would be left empty
                names_[kept] = std::move(names_[r]);
                labels_[kept] = labels_[r];
                lines_[kept] = lines_[r];
            }
            ++kept;
        }
    names_.resize(kept);
    labels_.resize(kept);
    lines_.resize(kept);
}

void dataset::check_images_exist() const {
    std::error_code ec;
    for (std::size_t i = 0; i < size(); ++i) {
        const fs::path path = image_path(i);
        if (!fs::is_regular_file(path, ec))
            throw error(path.string() + ": missing, listed at " + std::string(attributes_file) + " line " +
                        std::to_string(lines_[i]));
    }
}

fs::path dataset::image_path(std::size_t i) const { return root_ / images_folder / names_.at(i); }

void dataset::read_file(const fs::path& path, std::size_t i, std::vector<std::uint8_t>& bytes) const {
    std::string why;
    if (!read_whole_file(path, bytes, why))
        throw error(path.string() + ": cannot open (" + why + "), listed at " + std::string(attributes_file) +
                    " line " + std::to_string(lines_[i]));
}

void dataset::check_size(const fs::path& path, const rgb_image& image) const {
    const std::string size = std::to_string(image.width) + "x" + std::to_string(image.height);
    if (options_.require_aligned_size && (image.width != aligned_width || image.height != aligned_height))
        throw error(path.string() + ": image is " + size + ", expected the aligned CelebA size " +
                    std::to_string(aligned_width) + "x" + std::to_string(aligned_height) +
                    " (options::require_aligned_size)");
    if (image.width < crop_side || image.height < crop_side)
        throw error(path.string() + ": image is " + size + ", smaller than the " + std::to_string(crop_side) + "x" +
                    std::to_string(crop_side) + " centre crop");
}

void dataset::load(std::size_t i, float* out) const {
    thread_local image_loader loader;
    load(i, out, loader);
}

void dataset::load(std::size_t i, float* out, image_loader& loader) const {
    const fs::path path = image_path(i);
    read_file(path, i, loader.file_);
    loader.decoder_.decode(loader.file_.data(), loader.file_.size(), path.string(), loader.image_);
    check_size(path, loader.image_);
    loader.preprocess_(loader.image_.pixels.data(), loader.image_.width, loader.image_.height, out);
}

// ---- prefetcher ----------------------------------------------------------

prefetcher::prefetcher(const dataset& data, std::vector<std::size_t> order, std::size_t batch_size,
                       unsigned threads, std::size_t depth)
    : data_(data),
      order_(std::move(order)),
      batch_size_(batch_size),
      batch_count_(batch_size == 0 ? 0 : (order_.size() + batch_size - 1) / batch_size) {
    if (batch_size == 0 || threads == 0 || depth == 0)
        throw std::invalid_argument("prefetcher: batch size, threads and depth must be positive");
    for (const std::size_t i : order_)
        if (i >= data_.size())
            throw std::out_of_range("prefetcher: index " + std::to_string(i) + " beyond the data set's " +
                                    std::to_string(data_.size()) + " images");
    slots_.resize(std::min(depth, std::max<std::size_t>(batch_count_, 1)));
    for (slot& s : slots_)
        s.images.resize(batch_size_ * image_floats);
    workers_.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
        try {
            workers_.emplace_back([this] { work(); });
        } catch (...) {
            // Reserved, so workers_ is as it was: the ones started decode
            // every batch; with none there is nothing to join.
            if (workers_.empty())
                throw;
            break;
        }
    }
}

prefetcher::~prefetcher() {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    slot_free_.notify_all();
    for (std::thread& t : workers_)
        t.join();
}

std::size_t prefetcher::batch_size_of(std::size_t b) const {
    return std::min(batch_size_, order_.size() - b * batch_size_);
}

// Takes the next image to load once its batch has a free slot (at most
// `depth` batches ahead of the consumer).
bool prefetcher::claim(std::size_t& position, float*& out) {
    std::unique_lock<std::mutex> lock(mutex_);
    slot_free_.wait(lock, [this] {
        return stopping_ || next_position_ >= order_.size() ||
               next_position_ / batch_size_ < consumed_ + slots_.size();
    });
    if (stopping_ || next_position_ >= order_.size())
        return false;
    position = next_position_++;
    // The slot's buffer stays in place while its batch is being filled:
    // next() swaps it only once every image of the batch is done.
    const std::size_t b = position / batch_size_;
    out = slot_of(b).images.data() + (position - b * batch_size_) * image_floats;
    return true;
}

void prefetcher::finish(std::size_t position, std::exception_ptr failure) {
    const std::size_t b = position / batch_size_;
    bool complete = false;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        slot& s = slot_of(b);
        // The failure of the lowest position wins, so which error a batch
        // reports does not depend on thread timing.
        if (failure && (!s.failure || position < s.first_failed)) {
            s.failure = std::move(failure);
            s.first_failed = position;
        }
        complete = ++s.done == batch_size_of(b);
    }
    if (complete)
        batch_ready_.notify_all();
}

void prefetcher::work() {
    // A worker that cannot set up its decoder still claims its share, so
    // that the failure reaches the consumer through next().
    std::unique_ptr<image_loader> loader;
    std::exception_ptr broken;
    try {
        loader = std::make_unique<image_loader>();
    } catch (...) {
        broken = std::current_exception();
    }
    std::size_t position = 0;
    float* out = nullptr;
    while (claim(position, out)) {
        std::exception_ptr failure = broken;
        if (!failure) {
            try {
                data_.load(order_[position], out, *loader);
            } catch (...) {
                failure = std::current_exception();
            }
        }
        finish(position, std::move(failure));
    }
}

bool prefetcher::next(batch& out) {
    std::vector<float> spare;
    std::size_t b = 0;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        if (failure_)
            std::rethrow_exception(failure_);
        if (consumed_ >= batch_count_)
            return false;
        b = consumed_;
        slot& s = slot_of(b);
        batch_ready_.wait(lock, [&] { return s.done == batch_size_of(b); });
        if (s.failure) {
            failure_ = s.failure;
            stopping_ = true;
            lock.unlock();
            slot_free_.notify_all();
            std::rethrow_exception(failure_);
        }
        spare.swap(out.images);
        out.images.swap(s.images);
    }
    const std::size_t n = batch_size_of(b);
    out.images.resize(n * image_floats);
    out.labels.resize(n);
    out.indices.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = order_[b * batch_size_ + k];
        out.indices[k] = i;
        out.labels[k] = static_cast<float>(data_.label(i));
    }
    // The caller's old buffer becomes the slot's, sized outside the lock;
    // only then may workers start on batch b + depth.
    spare.resize(batch_size_ * image_floats);
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        slot& s = slot_of(b);
        s.images.swap(spare);
        s.done = 0;
        s.failure = nullptr;
        ++consumed_;
    }
    slot_free_.notify_all();
    return true;
}

}  // namespace logitloss::experiments::celeba
