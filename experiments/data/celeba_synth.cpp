// celeba_synth — writes a synthetic data set in CelebA's on-disk layout (see
// synth.hpp): celeba_synth --out DIR --count N --seed S [--quality Q]
// [--threads T].
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "synth.hpp"

namespace synth = logitloss::experiments::celeba::synth;

namespace {

const char* const usage =
    "usage: celeba_synth --out DIR --count N --seed S [--quality Q] [--threads T]\n"
    "\n"
    "Writes N synthetic 178x218 face JPEGs to DIR/img_align_celeba/ with\n"
    "DIR/list_attr_celeba.txt and DIR/list_eval_partition.txt, as CelebA lays\n"
    "them out. The label Smiling (attribute 31) is the mouth: an open smile or\n"
    "closed lips; the other attributes are random. The output depends only on\n"
    "S, N and Q (and, for the JPEG bytes, the libjpeg-turbo version).\n"
    "\n"
    "  --out DIR      output folder (created if missing)\n"
    "  --count N      number of images, >= 1\n"
    "  --seed S       unsigned 64-bit seed\n"
    "  --quality Q    JPEG quality 1..100 (default 90)\n"
    "  --threads T    worker threads (default: all cores); no effect on the output\n"
    "  --help         this text\n";

// Strict unsigned parse: digits only, no sign, no overflow.
bool parse_unsigned(const std::string& text, unsigned long long max, unsigned long long& value) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
        return false;
    errno = 0;
    value = std::strtoull(text.c_str(), nullptr, 10);
    return errno == 0 && value <= max;
}

struct arguments {
    synth::options opts;
    bool help = false;
};

[[noreturn]] void bad_usage(const std::string& why) {
    std::fprintf(stderr, "celeba_synth: %s\n\n%s", why.c_str(), usage);
    std::exit(2);
}

arguments parse(int argc, char** argv) {
    arguments args;
    args.opts.threads = std::max(1U, std::thread::hardware_concurrency());
    bool have_out = false;
    bool have_count = false;
    bool have_seed = false;
    for (int k = 1; k < argc; ++k) {
        const std::string flag = argv[k];
        if (flag == "--help" || flag == "-h") {
            args.help = true;
            return args;
        }
        if (k + 1 >= argc)
            bad_usage(flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unexpected argument '" + flag + "'");
        const std::string value = argv[++k];
        unsigned long long n = 0;
        if (flag == "--out") {
            args.opts.out = value;
            have_out = true;
        } else if (flag == "--count") {
            if (!parse_unsigned(value, 100000000ULL, n) || n == 0)
                bad_usage("--count wants a number of images from 1 to 100000000, not '" + value + "'");
            args.opts.count = static_cast<std::size_t>(n);
            have_count = true;
        } else if (flag == "--seed") {
            if (!parse_unsigned(value, ~0ULL, n))
                bad_usage("--seed wants an unsigned 64-bit integer, not '" + value + "'");
            args.opts.seed = n;
            have_seed = true;
        } else if (flag == "--quality") {
            if (!parse_unsigned(value, 100, n) || n == 0)
                bad_usage("--quality wants 1..100, not '" + value + "'");
            args.opts.quality = static_cast<int>(n);
        } else if (flag == "--threads") {
            if (!parse_unsigned(value, 1024, n) || n == 0)
                bad_usage("--threads wants 1..1024, not '" + value + "'");
            args.opts.threads = static_cast<unsigned>(n);
        } else {
            bad_usage("unknown option '" + flag + "'");
        }
    }
    if (!have_out || !have_count || !have_seed)
        bad_usage("--out, --count and --seed are required");
    return args;
}

}  // namespace

int main(int argc, char** argv) {
    const arguments args = parse(argc, argv);
    if (args.help) {
        std::fputs(usage, stdout);
        return 0;
    }
    try {
        const auto start = std::chrono::steady_clock::now();
        const synth::summary s = synth::write_dataset(args.opts);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("%zu images (%zu smiling) in %s: train %zu, valid %zu, test %zu\n", s.images, s.smiling,
                    args.opts.out.c_str(), s.partition.train, s.partition.valid, s.partition.test);
        std::printf("%.2f s, %.0f images/s on %u threads, JPEG quality %d, %.1f MB of JPEG (%.1f KB per image)\n",
                    seconds, static_cast<double>(s.images) / seconds, args.opts.threads, args.opts.quality,
                    static_cast<double>(s.jpeg_bytes) / 1e6,
                    static_cast<double>(s.jpeg_bytes) / 1e3 / static_cast<double>(s.images));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "celeba_synth: %s\n", e.what());
        return 1;
    }
    return 0;
}
