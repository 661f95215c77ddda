// test_celeba — the CelebA data layer: the synthetic generator read back
// through the reader, the preprocessing on analytic images, the prefetcher,
// every documented error, and the generator's determinism.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "data/celeba.hpp"
#include "data/synth.hpp"

namespace fs = std::filesystem;
namespace cb = logitloss::experiments::celeba;
namespace synth = cb::synth;

namespace {

// A fresh folder under the system's temporary directory, removed afterwards.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<unsigned> counter{0};
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() /
                ("logitloss_celeba_test_" + std::to_string(stamp) + "_" + std::to_string(counter++));
        fs::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

synth::summary generate(const fs::path& out, std::size_t count, std::uint64_t seed, unsigned threads = 2) {
    synth::options opts;
    opts.out = out;
    opts.count = count;
    opts.seed = seed;
    opts.threads = threads;
    return synth::write_dataset(opts);
}

std::string read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

std::vector<std::string> read_lines(const fs::path& path) {
    std::istringstream in(read_bytes(path));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines, const char* end = "\n") {
    std::string text;
    for (const std::string& line : lines)
        text += line + end;
    write_bytes(path, text);
}

// The message of the celeba::error that `action` throws ("" if none).
std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const cb::error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define CHECK_CONTAINS(text, part) CHECK_MESSAGE(contains(text, part), "'" << (text) << "' lacks '" << (part) << "'")

std::vector<float> load(const cb::dataset& data, std::size_t i) {
    std::vector<float> out(cb::image_floats);
    data.load(i, out.data());
    return out;
}

// An interleaved RGB image whose channel c at (x, y) is value(x, y, c).
std::vector<std::uint8_t> make_image(int w, int h, const std::function<int(int, int, int)>& value) {
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3 +
                    static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(value(x, y, c));
    return rgb;
}

float at(const std::vector<float>& chw, int c, int y, int x, int side = cb::image_side) {
    const auto s = static_cast<std::size_t>(side);
    return chw[(static_cast<std::size_t>(c) * s + static_cast<std::size_t>(y)) * s + static_cast<std::size_t>(x)];
}

std::vector<float> crop_resize(const std::vector<std::uint8_t>& rgb, int w, int h) {
    cb::preprocessor pre;
    std::vector<float> out(cb::image_floats);
    pre.crop_resize(rgb.data(), w, h, out.data());
    return out;
}

std::string jpeg_of(const std::vector<std::uint8_t>& rgb, int w, int h) {
    cb::jpeg_encoder encoder;
    std::vector<std::uint8_t> jpeg;
    encoder.encode(rgb.data(), w, h, 90, jpeg);
    return std::string(jpeg.begin(), jpeg.end());
}

std::vector<std::size_t> shuffled(std::size_t n, std::uint64_t seed) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    synth::rng r(seed);
    for (std::size_t i = n; i > 1; --i)
        std::swap(order[i - 1], order[static_cast<std::size_t>(r.next() % i)]);
    return order;
}

}  // namespace

// ---- the generator read back -------------------------------------------------

TEST_CASE("synth: a generated data set reads back with the generator's labels") {
    temp_dir dir;
    const std::uint64_t seed = 7;
    const synth::summary made = generate(dir.path(), 64, seed);
    CHECK(made.images == 64);
    CHECK(made.smiling > 16);  // balanced classes: 32 expected
    CHECK(made.smiling < 48);

    const cb::dataset all(dir.path(), cb::split::all);
    REQUIRE(all.size() == 64);
    CHECK(all.attribute_index() == cb::smiling_index);
    std::size_t smiling = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all.file_name(i) == synth::image_name(i));
        CHECK(all.label(i) == (synth::is_smiling(synth::attributes(seed, i)) ? 1 : 0));
        smiling += static_cast<std::size_t>(all.label(i));
    }
    CHECK(smiling == made.smiling);

    // The real proportions: 162770 / 19867 / 19962 of 202599.
    const synth::partition_sizes parts = synth::partition_for(64);
    CHECK(parts.train == 51);
    CHECK(parts.valid == 6);
    CHECK(parts.test == 7);
    const synth::partition_sizes real = synth::partition_for(202599);
    CHECK(real.train == 162770);
    CHECK(real.valid == 19867);
    CHECK(real.test == 19962);
    CHECK(cb::dataset(dir.path(), cb::split::train).size() == 51);
    CHECK(cb::dataset(dir.path(), cb::split::valid).size() == 6);
    const cb::dataset test(dir.path(), cb::split::test);
    REQUIRE(test.size() == 7);
    CHECK(test.file_name(0) == "000058.jpg");
    CHECK(test.label(6) == all.label(63));

    // Another attribute, looked up by name.
    cb::options young;
    young.attribute = "Young";
    const cb::dataset by_age(dir.path(), cb::split::all, young);
    CHECK(by_age.attribute_index() == 39);
    for (std::size_t i = 0; i < by_age.size(); ++i)
        CHECK(by_age.label(i) == (synth::attributes(seed, i)[39] > 0 ? 1 : 0));

    // Images: 3 x 128 x 128 in [-1, 1], with content.
    for (std::size_t i = 0; i < all.size(); ++i) {
        const std::vector<float> img = load(all, i);
        const auto [lo, hi] = std::minmax_element(img.begin(), img.end());
        CHECK(*lo >= -1.0f);
        CHECK(*hi <= 1.0f);
        CHECK(*hi - *lo > 0.5f);
    }
}

TEST_CASE("synth: the list files have CelebA's format") {
    temp_dir dir;
    generate(dir.path(), 3, 1);
    const std::vector<std::string> attrs = read_lines(dir.path() / "list_attr_celeba.txt");
    REQUIRE(attrs.size() == 5);
    CHECK(attrs[0] == "3");
    CHECK(attrs[1].rfind("5_o_Clock_Shadow Arched_Eyebrows Attractive ", 0) == 0);
    CHECK(attrs[1].size() > 30);
    CHECK(attrs[1].substr(attrs[1].size() - 7) == " Young ");
    CHECK(attrs[2].rfind("000001.jpg", 0) == 0);
    CHECK(attrs[2].size() == 10 + 40 * 3);
    const std::vector<std::string> parts = read_lines(dir.path() / "list_eval_partition.txt");
    REQUIRE(parts.size() == 3);
    CHECK(parts[0].rfind("000001.jpg ", 0) == 0);
}

// ---- preprocessing -------------------------------------------------------------

TEST_CASE("preprocess: centre crop offsets round half-pixel margins to even, as torchvision") {
    const cb::crop_origin aligned = cb::center_crop(178, 218, 160);
    CHECK(aligned.left == 9);
    CHECK(aligned.top == 29);
    CHECK(cb::center_crop_offset(160, 160) == 0);
    CHECK(cb::center_crop_offset(161, 160) == 0);  // round(0.5) = 0
    CHECK(cb::center_crop_offset(162, 160) == 1);
    CHECK(cb::center_crop_offset(163, 160) == 2);  // round(1.5) = 2
    CHECK(cb::center_crop_offset(165, 160) == 2);  // round(2.5) = 2
    CHECK(cb::center_crop_offset(167, 160) == 4);  // round(3.5) = 4
    CHECK_THROWS_AS(cb::center_crop_offset(159, 160), std::invalid_argument);
}

TEST_CASE("preprocess: 160 -> 128 weights are PIL's and torchvision's antialiased bilinear") {
    const cb::resample_weights w(160, 128);
    // Output 0 is centred at 0.625 with support 1.25: pixels 0 and 1 with
    // triangle weights 0.9 and 0.3, normalised.
    CHECK(w.first(0) == 0);
    REQUIRE(w.taps(0) == 2);
    CHECK(w.weights(0)[0] == doctest::Approx(0.75));
    CHECK(w.weights(0)[1] == doctest::Approx(0.25));
    // Output 1, centred at 1.875: pixels 1 and 2, weights 0.7 and 0.5.
    CHECK(w.first(1) == 1);
    REQUIRE(w.taps(1) == 2);
    CHECK(w.weights(1)[0] == doctest::Approx(7.0 / 12));
    CHECK(w.weights(1)[1] == doctest::Approx(5.0 / 12));
    for (int o = 0; o < 128; ++o) {
        double sum = 0;
        for (int t = 0; t < w.taps(o); ++t) {
            CHECK(w.weights(o)[t] >= 0.0f);
            sum += static_cast<double>(w.weights(o)[t]);
        }
        CHECK(sum == doctest::Approx(1.0));
        CHECK(w.first(o) >= 0);
        CHECK(w.first(o) + w.taps(o) <= 160);
    }
    // Same size: the identity.
    const cb::resample_weights same(160, 160);
    for (int o = 0; o < 160; ++o) {
        CHECK(same.first(o) == o);
        CHECK(same.weights(o)[0] == 1.0f);
    }
}

TEST_CASE("preprocess: a constant image stays constant") {
    const std::vector<std::uint8_t> rgb = make_image(178, 218, [](int, int, int c) { return c == 0 ? 10 : c == 1 ? 128 : 250; });
    cb::preprocessor pre;
    std::vector<float> out(cb::image_floats);
    pre(rgb.data(), 178, 218, out.data());
    const float expect[3] = {10.0f / 127.5f - 1.0f, 128.0f / 127.5f - 1.0f, 250.0f / 127.5f - 1.0f};
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 128; ++y)
            for (int x = 0; x < 128; ++x)
                REQUIRE(at(out, c, y, x) == doctest::Approx(expect[c]).epsilon(1e-6));
}

TEST_CASE("preprocess: a linear ramp stays a linear ramp") {
    // v = x across the 178-wide image: the crop starts at x = 9, and output
    // pixel o is centred on crop coordinate 1.25 (o + 0.5), i.e. on the value
    // 9 + 1.25 (o + 0.5) - 0.5. The triangle filter sampled at the input
    // pixel centres is not quite symmetric about that centre, so the ramp
    // comes back with a ripple of period 4 outputs and amplitude 1/24 of the
    // input slope; the two border pixels, whose filter the crop's edge cuts,
    // are off by 1/8.
    const std::vector<float> across = crop_resize(make_image(178, 218, [](int x, int, int) { return x; }), 178, 218);
    const std::vector<float> down = crop_resize(make_image(178, 218, [](int, int y, int) { return y; }), 178, 218);
    for (int o = 0; o < 128; ++o) {
        const double tolerance = (o == 0 || o == 127) ? 0.126 : 1.0 / 24 + 1e-4;
        const double ramp_x = 9 + 1.25 * (o + 0.5) - 0.5;
        const double ramp_y = 29 + 1.25 * (o + 0.5) - 0.5;
        for (int c = 0; c < 3; ++c)
            for (const int k : {0, 17, 127}) {
                CHECK(std::fabs(at(across, c, k, o) - ramp_x) <= tolerance);
                CHECK(std::fabs(at(down, c, o, k) - ramp_y) <= tolerance);
            }
    }
}

TEST_CASE("preprocess: a fine checkerboard averages to grey (antialiasing)") {
    const std::vector<std::uint8_t> board = make_image(178, 218, [](int x, int y, int) { return (x + y) % 2 ? 255 : 0; });
    const std::vector<float> aa = crop_resize(board, 178, 218);
    // Plain bilinear sampling of the same crop at the same centres, as a
    // resize without antialiasing computes it.
    const auto pixel = [&](int x, int y) { return static_cast<double>(board[(static_cast<std::size_t>(y) * 178 + static_cast<std::size_t>(x)) * 3]); };
    const auto sample = [&](double x, double y) {
        const int x0 = static_cast<int>(std::floor(x));
        const int y0 = static_cast<int>(std::floor(y));
        const double fx = x - x0;
        const double fy = y - y0;
        return (1 - fy) * ((1 - fx) * pixel(x0, y0) + fx * pixel(x0 + 1, y0)) +
               fy * ((1 - fx) * pixel(x0, y0 + 1) + fx * pixel(x0 + 1, y0 + 1));
    };
    double aa_mean = 0;
    double aa_swing = 0;
    double plain_swing = 0;
    for (int y = 1; y < 127; ++y)
        for (int x = 1; x < 127; ++x) {
            const double v = at(aa, 0, y, x);
            aa_mean += v;
            aa_swing = std::max(aa_swing, std::fabs(v - 127.5));
            const double p = sample(9 + 1.25 * (x + 0.5) - 0.5, 29 + 1.25 * (y + 0.5) - 0.5);
            plain_swing = std::max(plain_swing, std::fabs(p - 127.5));
        }
    aa_mean /= 126.0 * 126.0;
    MESSAGE("checkerboard: largest distance from grey " << aa_swing << " antialiased, " << plain_swing
                                                        << " without antialiasing");
    CHECK(aa_mean == doctest::Approx(127.5).epsilon(0.01));
    CHECK(aa_swing < 0.5 * plain_swing);
    CHECK(aa_swing < 40.0);
}

// ---- the prefetcher --------------------------------------------------------------

namespace {

struct drained {
    std::vector<float> images;
    std::vector<float> labels;
    std::vector<std::size_t> indices;
    std::vector<std::size_t> sizes;
};

drained drain(const cb::dataset& data, const std::vector<std::size_t>& order, std::size_t batch_size,
              unsigned threads, std::size_t depth) {
    cb::prefetcher loader(data, order, batch_size, threads, depth);
    drained all;
    cb::batch b;
    while (loader.next(b)) {
        REQUIRE(b.images.size() == b.size() * cb::image_floats);
        all.sizes.push_back(b.size());
        all.images.insert(all.images.end(), b.images.begin(), b.images.end());
        all.labels.insert(all.labels.end(), b.labels.begin(), b.labels.end());
        all.indices.insert(all.indices.end(), b.indices.begin(), b.indices.end());
    }
    return all;
}

}  // namespace

TEST_CASE("prefetcher: the same batches, byte for byte, on 1 and 3 threads") {
    temp_dir dir;
    generate(dir.path(), 64, 11);
    const cb::dataset data(dir.path(), cb::split::all);
    const std::vector<std::size_t> order = shuffled(data.size(), 3);

    const drained one = drain(data, order, 10, 1, 2);
    const drained three = drain(data, order, 10, 3, 2);
    CHECK(one.sizes == std::vector<std::size_t>{10, 10, 10, 10, 10, 10, 4});
    CHECK(three.sizes == one.sizes);
    CHECK(one.indices == order);
    CHECK(three.indices == order);
    CHECK(three.labels == one.labels);
    REQUIRE(one.images.size() == three.images.size());
    CHECK(std::memcmp(one.images.data(), three.images.data(), one.images.size() * sizeof(float)) == 0);
    for (std::size_t k = 0; k < order.size(); ++k) {
        CHECK(one.labels[k] == static_cast<float>(data.label(order[k])));
        const std::vector<float> direct = load(data, order[k]);
        CHECK(std::memcmp(direct.data(), one.images.data() + k * cb::image_floats, sizeof(float) * direct.size()) == 0);
    }

    // A consumer that stops early, or never starts: the destructor returns.
    {
        cb::prefetcher early(data, order, 4, 3, 3);
        cb::batch b;
        CHECK(early.next(b));
        CHECK(b.size() == 4);
    }
    { cb::prefetcher unused(data, order, 8, 2, 2); }
    { cb::prefetcher empty(data, {}, 8, 2, 2); cb::batch b; CHECK_FALSE(empty.next(b)); }
    CHECK_THROWS_AS(cb::prefetcher(data, {64}, 8, 1, 1), std::out_of_range);
    CHECK_THROWS_AS(cb::prefetcher(data, order, 0, 1, 1), std::invalid_argument);
}

TEST_CASE("prefetcher: a corrupt image's error is rethrown by the next() that reaches it") {
    temp_dir dir;
    generate(dir.path(), 16, 12);
    const cb::dataset data(dir.path(), cb::split::all);
    const std::vector<std::size_t> order = shuffled(data.size(), 4);
    const fs::path broken = data.image_path(order[9]);  // batch 2 of 4-image batches
    const std::string bytes = read_bytes(broken);
    write_bytes(broken, bytes.substr(0, bytes.size() / 2));

    cb::prefetcher loader(data, order, 4, 3, 2);
    cb::batch b;
    CHECK(loader.next(b));
    CHECK(loader.next(b));
    const std::string message = error_of([&] { loader.next(b); });
    CHECK_CONTAINS(message, broken.string());
    CHECK_CONTAINS(message, "Premature end of JPEG file");
    CHECK(error_of([&] { loader.next(b); }) == message);
}

// ---- errors --------------------------------------------------------------------------

namespace {

// A 4-image data set to break.
struct small_set {
    temp_dir dir;
    small_set() { generate(dir.path(), 4, 21, 1); }
    fs::path root() const { return dir.path(); }
    fs::path attrs() const { return dir.path() / "list_attr_celeba.txt"; }
    fs::path parts() const { return dir.path() / "list_eval_partition.txt"; }
    fs::path image(const char* name) const { return dir.path() / "img_align_celeba" / name; }
    std::string open_error(const cb::options& opts = {}) const {
        return error_of([&] { cb::dataset d(root(), cb::split::all, opts); });
    }
    std::string load_error(std::size_t i, const cb::options& opts = {}) const {
        const cb::dataset d(root(), cb::split::all, opts);
        return error_of([&] { load(d, i); });
    }
};

}  // namespace

TEST_CASE("errors: missing root, folder and lists") {
    small_set s;
    const std::string no_root = error_of([&] { cb::dataset d(s.root() / "nowhere", cb::split::all); });
    CHECK_CONTAINS(no_root, "nowhere");
    CHECK_CONTAINS(no_root, "is not a directory");

    fs::remove(s.parts());
    const std::string no_parts = s.open_error();
    CHECK_CONTAINS(no_parts, "cannot open '" + s.parts().string() + "'");
    CHECK_CONTAINS(no_parts, "No such file or directory");
    fs::remove(s.attrs());
    CHECK_CONTAINS(s.open_error(), "cannot open '" + s.attrs().string() + "'");
    fs::remove_all(s.root() / "img_align_celeba");
    CHECK_CONTAINS(s.open_error(), "img_align_celeba' is not a directory");
}

TEST_CASE("errors: an image listed but missing") {
    small_set s;
    fs::remove(s.image("000003.jpg"));
    const std::string at_open = s.open_error();
    CHECK_CONTAINS(at_open, s.image("000003.jpg").string() + ": missing, listed at list_attr_celeba.txt line 5");
    cb::options lazy;
    lazy.check_images_exist = false;
    CHECK(s.load_error(1, lazy).empty());
    const std::string at_load = s.load_error(2, lazy);
    CHECK_CONTAINS(at_load, s.image("000003.jpg").string() + ": cannot open (No such file or directory)");
    CHECK_CONTAINS(at_load, "list_attr_celeba.txt line 5");
}

TEST_CASE("errors: truncated, garbage and empty JPEGs") {
    small_set s;
    const std::string bytes = read_bytes(s.image("000002.jpg"));
    write_bytes(s.image("000002.jpg"), bytes.substr(0, bytes.size() * 2 / 3));
    const std::string truncated = s.load_error(1);
    CHECK_CONTAINS(truncated, s.image("000002.jpg").string() + ": cannot decode the JPEG (Premature end of JPEG file");
    CHECK_CONTAINS(truncated, "bytes)");

    std::string garbage(600, '\0');
    synth::rng r(5);
    for (char& c : garbage)
        c = static_cast<char>(r.next() & 0x7F);
    write_bytes(s.image("000003.jpg"), garbage);
    const std::string not_jpeg = s.load_error(2);
    CHECK_CONTAINS(not_jpeg, s.image("000003.jpg").string() + ": cannot read the JPEG header (Not a JPEG file");

    write_bytes(s.image("000004.jpg"), "");
    CHECK_CONTAINS(s.load_error(3), s.image("000004.jpg").string() + ": empty file, not a JPEG");
    CHECK(s.load_error(0).empty());
}

TEST_CASE("errors: image sizes") {
    small_set s;
    const auto grey = [](int, int, int) { return 128; };
    write_bytes(s.image("000001.jpg"), jpeg_of(make_image(200, 200, grey), 200, 200));
    write_bytes(s.image("000002.jpg"), jpeg_of(make_image(150, 170, grey), 150, 170));
    const std::string wrong = s.load_error(0);
    CHECK_CONTAINS(wrong, s.image("000001.jpg").string() + ": image is 200x200, expected the aligned CelebA size 178x218");
    cb::options any_size;
    any_size.require_aligned_size = false;
    CHECK(s.load_error(0, any_size).empty());
    CHECK_CONTAINS(s.load_error(1, any_size), "000002.jpg: image is 150x170, smaller than the 160x160 centre crop");
}

TEST_CASE("errors: malformed list_attr_celeba.txt") {
    small_set s;
    const std::vector<std::string> good = read_lines(s.attrs());
    const auto with = [&](std::size_t line, const std::string& text) {
        std::vector<std::string> lines = good;
        lines[line - 1] = text;
        write_lines(s.attrs(), lines);
        return s.open_error();
    };
    const std::string where = s.attrs().string();

    CHECK_CONTAINS(with(1, "5"), where + ":1: says 5 images, the file has 4 rows");
    CHECK_CONTAINS(with(1, "four"), where + ":1: expected the number of images, found 'four'");
    // A line of megabytes (a file without its line breaks) is quoted in part.
    const std::string long_line = with(1, std::string(100000, 'x'));
    CHECK_CONTAINS(long_line, ":1: expected the number of images, found '" + std::string(80, 'x') +
                                  "...' (100000 bytes)");
    CHECK(long_line.size() < 1000);
    std::string header = good[1];
    header.replace(header.find("Smiling"), 7, "Smiles!");
    CHECK_CONTAINS(with(2, header), where + ":2: attribute 31 is 'Smiles!', CelebA's is 'Smiling'");
    CHECK_CONTAINS(with(2, "5_o_Clock_Shadow Arched_Eyebrows"), where + ":2: expected CelebA's 40 attribute names, found 2");

    CHECK_CONTAINS(with(4, good[3].substr(0, good[3].size() - 3)),
                   where + ":4: expected a file name and 40 values, found 40 fields");
    CHECK_CONTAINS(with(4, good[3] + "  1"), where + ":4: expected a file name and 40 values, found 42 fields");
    std::string zero = good[4];
    zero.replace(10 + 31 * 3, 3, "  0");
    CHECK_CONTAINS(with(5, zero), where + ":5: attribute 31 (Smiling) is '0', expected -1 or 1");
    std::string twice = good[4];
    twice.replace(0, 10, "000001.jpg");
    CHECK_CONTAINS(with(5, twice), where + ":5: '000001.jpg' is listed twice (first at line 3)");
    std::string path = good[4];
    path.replace(0, 10, "../xx1.jpg");
    CHECK_CONTAINS(with(5, path), where + ":5: '../xx1.jpg' is not a plain file name");
    CHECK_CONTAINS(with(4, ""), where + ":4: blank line before the last row");

    write_lines(s.attrs(), good);
    cb::options unknown;
    unknown.attribute = "Smirking";
    CHECK_CONTAINS(s.open_error(unknown), "attribute 'Smirking' is not in " + where + " line 2");
    CHECK(s.open_error().empty());
}

TEST_CASE("errors: malformed list_eval_partition.txt") {
    small_set s;
    const std::vector<std::string> good = read_lines(s.parts());
    const std::string where = s.parts().string();
    const auto open_with = [&](const std::vector<std::string>& lines) {
        write_lines(s.parts(), lines);
        return s.open_error();
    };
    std::vector<std::string> lines = good;
    std::swap(lines[0], lines[1]);
    CHECK_CONTAINS(open_with(lines),
                   where + ":1: '000002.jpg' where list_attr_celeba.txt line 3 has '000001.jpg' (both lists must "
                           "name the same images in the same order)");
    lines = good;
    lines[2] = "000003.jpg 3";
    CHECK_CONTAINS(open_with(lines), where + ":3: partition '3', expected 0 (train), 1 (valid) or 2 (test)");
    lines[2] = "000003.jpg";
    CHECK_CONTAINS(open_with(lines), where + ":3: expected a file name and a partition (0, 1 or 2), found 1 fields");
    lines = good;
    lines.pop_back();
    CHECK_CONTAINS(open_with(lines), where + ": 3 rows, list_attr_celeba.txt has 4");
    lines = good;
    lines.push_back("000005.jpg 2");
    CHECK_CONTAINS(open_with(lines), where + ":5: more rows than the 4 images of list_attr_celeba.txt");
}

TEST_CASE("reader: CRLF line ends and trailing blank lines are accepted") {
    small_set s;
    const cb::dataset before(s.root(), cb::split::all);
    write_lines(s.attrs(), read_lines(s.attrs()), "\r\n");
    std::vector<std::string> parts = read_lines(s.parts());
    parts.push_back("");
    parts.push_back("");
    write_lines(s.parts(), parts, "\r\n");
    const cb::dataset after(s.root(), cb::split::all);
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        CHECK(after.file_name(i) == before.file_name(i));
        CHECK(after.label(i) == before.label(i));
    }
}

// ---- determinism -------------------------------------------------------------------------

TEST_CASE("synth: the same seed writes the same bytes, whatever the thread count; another seed does not") {
    temp_dir a;
    temp_dir b;
    temp_dir c;
    generate(a.path(), 24, 5, 1);
    generate(b.path(), 24, 5, 3);
    generate(c.path(), 24, 6, 2);
    for (const char* list : {"list_attr_celeba.txt", "list_eval_partition.txt"})
        CHECK(read_bytes(a.path() / list) == read_bytes(b.path() / list));
    CHECK(read_bytes(a.path() / "list_attr_celeba.txt") != read_bytes(c.path() / "list_attr_celeba.txt"));
    for (std::size_t i = 0; i < 24; ++i) {
        const fs::path name = fs::path("img_align_celeba") / synth::image_name(i);
        const std::string first = read_bytes(a.path() / name);
        CHECK(!first.empty());
        CHECK(first == read_bytes(b.path() / name));
        CHECK(first != read_bytes(c.path() / name));
    }
}

TEST_CASE("synth: the pictures of seed 1 are the reference ones") {
    // FNV-1a of the raw RGB of two images, the same with GCC and Clang, with
    // and without -march=native. A change here means data sets generated
    // before no longer match: update the constants only on purpose.
    const auto fnv1a = [](const std::vector<std::uint8_t>& bytes) {
        std::uint64_t h = 0xcbf29ce484222325ULL;
        for (const std::uint8_t b : bytes) {
            h ^= b;
            h *= 0x100000001b3ULL;
        }
        return h;
    };
    synth::renderer draw;
    std::vector<std::uint8_t> pixels(synth::image_bytes);
    draw.render(1, 0, true, pixels.data());
    CHECK(fnv1a(pixels) == 0x60f8a9d77767f0f6ULL);
    draw.render(1, 1, false, pixels.data());
    CHECK(fnv1a(pixels) == 0xe6391c13f7b989c0ULL);
}
