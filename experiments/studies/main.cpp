// logitloss_experiments: the studies of what the loss's formulation does to
// a VGG16 (curves, lockstep, train, fixes, layers, kernels). This file is the
// command line: subcommands, options, --help. No LibTorch here.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "studies.hpp"

namespace st = logitloss::experiments::studies;

namespace {

struct study_def {
    const char* name;
    const char* summary;
    const char* description;
    int (*run)(const st::settings&);
};

const study_def studies[] = {
    {"curves", "loss and gradient against the logit: Sigmoid->BCELoss (torch, float32 and float64) vs BCE with logits",
     "Loss and gradient of Sigmoid->BCELoss as torch computes them (float32 and float64) and of\n"
     "BCE with logits (logitloss::torch_ops), for y = 0 and y = 1, against the logit, with the exact\n"
     "saturation thresholds of diagnostics.hpp marked and checked against torch; and the GAN\n"
     "generator losses log(1 - D(G(z))) (saturating) and -log D(G(z)) (non-saturating) with their\n"
     "gradients against the discriminator's logit. Needs no model and no data; runs on the CPU.",
     st::run_curves},
    {"lockstep", "two VGG16 copies from identical weights and batches: Sigmoid+BCELoss vs BCEWithLogitsLoss",
     "Two copies of the VGG16 from identical weights, fed identical batches (and identical dropout\n"
     "masks), one trained with Sigmoid+BCELoss, one with BCEWithLogitsLoss (Adam). Per step: loss,\n"
     "logit mean and std, % saturated (|logit| >= 16.6355: from +16.6355 up float32's sigmoid as torch\n"
     "computes it is exactly 1), the final layer's gradient norm. For init {raschka, proper} x lr {1e-3,\n"
     "1e-4}. --compare runs everything with --loss-impl native and ours and exits 1 when the curves\n"
     "differ by more than the tolerance.",
     st::run_lockstep},
    {"train", "test accuracy over init x lr x loss x BatchNorm (several seeds with --seeds K)",
     "Trains the VGG16 for every combination of init {raschka, proper}, Adam lr {1e-3, 1e-4}, loss\n"
     "{Sigmoid+BCELoss, BCEWithLogitsLoss} and BatchNorm {no, yes}, and tabulates the test accuracy\n"
     "(mean and spread over --seeds K). Both losses of a scenario start from identical weights and\n"
     "see identical batches.",
     st::run_train},
    {"fixes", "Sigmoid+BCELoss at proper init, lr 1e-3, with each proposed fix: does it learn?",
     "Sigmoid+BCELoss at proper init (--init to change), Adam lr 1e-3, with each fix: weight decay\n"
     "0.01, 0.1, 1 (Adam's weight_decay), gradient clipping (norm 1), BatchNorm, lr 1e-4, BatchNorm\n"
     "and lr 1e-4; the unfixed run and BCEWithLogitsLoss for reference. A run has learned when its\n"
     "test accuracy reaches --learned-at percent (default 60).",
     st::run_fixes},
    {"layers", "gradient norm of every layer over the first steps, for both losses",
     "The gradient norm of each of the 16 weight tensors (conv1_1 ... fc3) over the first K steps,\n"
     "for Sigmoid+BCELoss and BCEWithLogitsLoss from identical weights and batches (--init, --lr).",
     st::run_layers},
    {"kernels", "fused BCE-with-logits forward+backward vs torch's, in GB/s next to a device copy",
     "GB/s of useful traffic (read logits and targets, write the gradient: 12 bytes per float32\n"
     "element) of logitloss::torch_ops::bce_with_logits forward+backward and of torch's\n"
     "binary_cross_entropy_with_logits + backward, next to a copy (8 bytes per element), for N =\n"
     "min-n ... max-n in powers of 4; median of the timed repetitions. With --device cuda it times\n"
     "the GPU; with --device cpu it times the CPU kernels instead, and says so.",
     st::run_kernels},
};

enum group : unsigned {
    all = 1u << 0,
    model = 1u << 1,  // lockstep, train, fixes, layers
    test_set = 1u << 2,
    seeds = 1u << 3,
    compare = 1u << 4,
    init_choice = 1u << 5,
    lr_choice = 1u << 6,
    learned = 1u << 7,
    kernels = 1u << 8,
    lr_list = 1u << 9,
    budget = 1u << 10,  // train, fixes
};

unsigned groups_of(const std::string& study) {
    if (study == "lockstep") return all | model | compare | lr_list | init_choice;
    if (study == "train") return all | model | test_set | seeds | init_choice | lr_list | budget;
    if (study == "fixes") return all | model | test_set | init_choice | learned | budget;
    if (study == "layers") return all | model | init_choice | lr_choice;
    if (study == "kernels") return all | kernels;
    return all;
}

struct option_def {
    const char* name;
    const char* argument;  // nullptr: a flag
    const char* help;
    unsigned group;
    std::function<void(st::settings&, const std::string&)> set;
};

constexpr long long int_max = std::numeric_limits<int>::max();
// The largest N of the kernels study: 2^40 elements, 12 TiB of operands,
// beyond any device; N * 4 cannot overflow below it.
constexpr long long max_elements = 1LL << 40;

// An integer from lo to hi, with the suffix K, M or G (powers of 2) where
// it stands for a size: --max-n 256M. A value that does not fit, scaled or
// not, is an error, never a wrapped one.
long long parse_integer(const std::string& option, const std::string& text, long long lo, long long hi = int_max) {
    std::string digits = text;
    long long scale = 1;
    if (!digits.empty()) {
        const char u = digits.back();
        if (u == 'K' || u == 'k') scale = 1LL << 10;
        if (u == 'M' || u == 'm') scale = 1LL << 20;
        if (u == 'G' || u == 'g') scale = 1LL << 30;
        if (scale != 1) digits.pop_back();
    }
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(digits.c_str(), &end, 10);
    if (digits.empty() || *end != '\0' || errno != 0 || v < lo || v > hi / scale)
        throw std::invalid_argument(option + " needs an integer from " + std::to_string(lo) + " to " +
                                    std::to_string(hi) + ", got '" + text + "'");
    return v * scale;
}

double parse_number(const std::string& option, const std::string& text, double lo, bool inclusive) {
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || !(inclusive ? v >= lo : v > lo))
        throw std::invalid_argument(option + " needs a finite number " + (inclusive ? ">= " : "> ") +
                                    st::general(lo) + ", got '" + text + "'");
    return v;
}

const std::vector<option_def>& options() {
    static const std::vector<option_def> list = {
        {"--out", "DIR", "folder for <study>.md, .csv, .gp, .png (created; default experiments-out)", all,
         [](st::settings& s, const std::string& v) { s.out = v; }},
        {"--device", "cpu|cuda", "where tensors live (cuda only when LibTorch sees a GPU); default cpu", all,
         [](st::settings& s, const std::string& v) {
             if (v != "cpu" && v != "cuda") throw std::invalid_argument("--device is cpu or cuda, got '" + v + "'");
             s.device = v;
         }},
        {"--data", "DIR", "a CelebA-layout folder (img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt)",
         all, [](st::settings& s, const std::string& v) { s.data = v; }},
        {"--synthetic", "N",
         "if --data is absent (or not given: <out>/synthetic), first write N synthetic images there "
         "(celeba::synth, seeded by --seed)",
         all,
         [](st::settings& s, const std::string& v) {
             s.synthetic = static_cast<std::size_t>(parse_integer("--synthetic", v, 1));
         }},
        {"--seed", "S", "seed of weights, batch order, dropout and synthetic data (default 1)", all,
         [](st::settings& s, const std::string& v) {
             s.seed = static_cast<std::uint64_t>(
                 parse_integer("--seed", v, 0, std::numeric_limits<long long>::max()));
         }},
        {"--size", "toy|full",
         "preset: toy (width 1/16, input 32, seconds on a CPU) or full (the original VGG16: width 1, input 128, "
         "batch 256; for a GPU); default toy",
         all,
         [](st::settings& s, const std::string& v) {
             if (v == "toy")
                 s.size = st::preset::toy;
             else if (v == "full")
                 s.size = st::preset::full;
             else
                 throw std::invalid_argument("--size is toy or full, got '" + v + "'");
         }},
        {"--loss-impl", "native|ours",
         "the losses from torch (native) or logitloss::torch_ops (ours: BCEWithLogits, and BCE after "
         "SigmoidATen, which has torch's sigmoid semantics); default native",
         all,
         [](st::settings& s, const std::string& v) {
             if (v == "native")
                 s.impl = st::loss_impl::native;
             else if (v == "ours")
                 s.impl = st::loss_impl::ours;
             else
                 throw std::invalid_argument("--loss-impl is native or ours, got '" + v + "'");
         }},
        {"--tf32", nullptr, "let cuDNN convolutions use TF32 on CUDA (off by default: full float32)", all,
         [](st::settings& s, const std::string&) { s.tf32 = true; }},
        {"--threads", "N", "LibTorch CPU threads (default: LibTorch's choice)", all,
         [](st::settings& s, const std::string& v) {
             s.threads = static_cast<int>(parse_integer("--threads", v, 1));
         }},
        {"--width", "W", "override the preset: channel multiplier of the VGG16", model,
         [](st::settings& s, const std::string& v) { s.width = parse_number("--width", v, 0, false); }},
        {"--input", "S", "override the preset: input side (a multiple of 32, at most 128)", model,
         [](st::settings& s, const std::string& v) {
             s.input = static_cast<int>(parse_integer("--input", v, 32));
         }},
        {"--batch", "B", "override the preset: batch size", model,
         [](st::settings& s, const std::string& v) {
             s.batch = static_cast<int>(parse_integer("--batch", v, 1));
         }},
        {"--steps", "K", "override the preset: optimizer steps per run", model,
         [](st::settings& s, const std::string& v) {
             s.steps = static_cast<int>(parse_integer("--steps", v, 1));
         }},
        {"--train-images", "N", "override the preset: training images loaded (the first N of the split)", model,
         [](st::settings& s, const std::string& v) {
             s.train_images = static_cast<std::size_t>(parse_integer("--train-images", v, 1));
         }},
        {"--test-images", "N", "override the preset: test images evaluated (the first N of the split)", test_set,
         [](st::settings& s, const std::string& v) {
             s.test_images = static_cast<std::size_t>(parse_integer("--test-images", v, 1));
         }},
        {"--seeds", "K", "runs per scenario, seeds S, S+1, ... (default 1)", seeds,
         [](st::settings& s, const std::string& v) {
             s.seeds = static_cast<int>(parse_integer("--seeds", v, 1));
         }},
        {"--compare", nullptr,
         "run with --loss-impl native and ours, tabulate the differences, exit 1 when one exceeds the tolerance",
         compare, [](st::settings& s, const std::string&) { s.compare = true; }},
        {"--tolerance", "T", "relative tolerance of --compare (default 1e-3, see README.md)", compare,
         [](st::settings& s, const std::string& v) { s.tolerance = parse_number("--tolerance", v, 0, false); }},
        {"--init", "raschka|proper|torch",
         "the initialisation; torch (also: default) is LibTorch's own (fixes: default proper; layers: default "
         "raschka; lockstep, train: only this one instead of both raschka and proper)",
         init_choice,
         [](st::settings& s, const std::string& v) {
             if (v != "raschka" && v != "proper" && v != "torch" && v != "default")
                 throw std::invalid_argument("--init is raschka, proper or torch (default), got '" + v + "'");
             s.init = v;
         }},
        {"--lr", "LR", "Adam's learning rate (default 1e-3)", lr_choice,
         [](st::settings& s, const std::string& v) { s.lrs = {parse_number("--lr", v, 0, false)}; }},
        {"--lr", "LR[,LR...]", "Adam's learning rates, each with every init (default 1e-3,1e-4)", lr_list,
         [](st::settings& s, const std::string& v) {
             s.lrs.clear();
             std::size_t begin = 0;
             while (begin <= v.size()) {
                 const std::size_t end = std::min(v.find(',', begin), v.size());
                 s.lrs.push_back(parse_number("--lr", v.substr(begin, end - begin), 0, false));
                 begin = end + 1;
             }
         }},
        {"--learned-at", "PCT", "test accuracy (%) from which a run has learned (default 60)", learned,
         [](st::settings& s, const std::string& v) { s.learned_at = parse_number("--learned-at", v, 0, true); }},
        {"--time-budget", "SECONDS",
         "fit the steps per run so that the study ends within SECONDS of its start, from the measured time of a "
         "step and of an evaluation (at most the preset's steps, or --steps)",
         budget,
         [](st::settings& s, const std::string& v) {
             s.time_budget = parse_number("--time-budget", v, 0, false);
         }},
        {"--reps", "R", "override the preset: timed repetitions per size", kernels,
         [](st::settings& s, const std::string& v) {
             s.reps = static_cast<int>(parse_integer("--reps", v, 1));
         }},
        {"--min-n", "N", "override the preset: smallest N (K, M, G suffixes: powers of 2)", kernels,
         [](st::settings& s, const std::string& v) {
             s.min_n = static_cast<std::uint64_t>(parse_integer("--min-n", v, 1, max_elements));
         }},
        {"--max-n", "N", "override the preset: largest N", kernels,
         [](st::settings& s, const std::string& v) {
             s.max_n = static_cast<std::uint64_t>(parse_integer("--max-n", v, 1, max_elements));
         }},
    };
    return list;
}

void print_usage(std::ostream& o) {
    o << "usage: logitloss_experiments STUDY [options]   (logitloss_experiments STUDY --help for its options)\n\n"
         "Studies of what the formulation of binary cross-entropy does to training a VGG16.\n"
         "Each writes <out>/<study>.md (a table under a header with device, date, commit and command),\n"
         "<out>/<study>.csv and <out>/<study>.png (from <out>/<study>.gp, when gnuplot is installed).\n\n"
         "studies:\n";
    for (const auto& d : studies) o << "  " << d.name << std::string(10 - std::string(d.name).size(), ' ') << d.summary << "\n";
}

void print_help(const study_def& d, std::ostream& o) {
    o << "usage: logitloss_experiments " << d.name << " [options]\n\n" << d.description << "\n\noptions:\n";
    const unsigned g = groups_of(d.name);
    for (const auto& opt : options()) {
        if (!(opt.group & g)) continue;
        std::string head = std::string("  ") + opt.name + (opt.argument ? std::string(" ") + opt.argument : "");
        if (head.size() < 30)
            head += std::string(30 - head.size(), ' ');
        else
            head += "\n" + std::string(30, ' ');
        o << head << opt.help << "\n";
    }
    o << "  --help                      this text\n\n"
         "Progress and an ETA go to stderr. Presets, outputs and the full-size budget: experiments/studies/README.md\n";
}

// c10::Error's message carries a C++ backtrace after this line; the user
// needs the message.
std::string without_backtrace(std::string what) {
    // c10::Error appends "Exception raised from ..." and the frames; an
    // enforce failure (CAFFE_ENFORCE, as in the CPU allocator) the frames alone.
    for (const char* start : {"\nException raised from", "\nframe #"}) {
        const auto cut = what.find(start);
        if (cut != std::string::npos) what.erase(cut);
    }
    return what;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        print_usage(std::cerr);
        return 2;
    }
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_usage(std::cout);
        return 0;
    }
    const study_def* study = nullptr;
    for (const auto& d : studies)
        if (name == d.name) study = &d;
    if (!study) {
        std::cerr << "logitloss_experiments: unknown study '" << name << "'\n\n";
        print_usage(std::cerr);
        return 2;
    }

    st::settings s;
    s.study = study->name;
    s.command_line.assign(argv, argv + argc);
    const unsigned g = groups_of(s.study);
    try {
        for (int i = 2; i < argc; ++i) {
            std::string arg = argv[i];
            if (arg == "--help" || arg == "-h") {
                print_help(*study, std::cout);
                return 0;
            }
            std::string value;
            bool has_value = false;
            if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
                value = arg.substr(eq + 1);
                arg.erase(eq);
                has_value = true;
            }
            const option_def* opt = nullptr;
            for (const auto& o : options())
                if (arg == o.name && (o.group & g)) opt = &o;
            if (!opt)
                throw std::invalid_argument("unknown option '" + arg + "' for " + s.study + " (see " + s.study +
                                            " --help)");
            if (opt->argument && !has_value) {
                if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value (" + opt->argument + ")");
                value = argv[++i];
            } else if (!opt->argument && has_value) {
                throw std::invalid_argument(arg + " takes no value");
            }
            opt->set(s, value);
        }
        if (s.min_n > 0 && s.max_n > 0 && s.min_n > s.max_n)
            throw std::invalid_argument("--min-n (" + std::to_string(s.min_n) + ") is larger than --max-n (" +
                                        std::to_string(s.max_n) + ")");
    } catch (const std::exception& e) {
        std::cerr << "logitloss_experiments " << s.study << ": " << e.what() << "\n";
        return 2;
    }

    try {
        return study->run(s);
    } catch (const std::bad_alloc&) {
        std::cerr << "logitloss_experiments " << s.study
                  << ": error: out of memory: the options ask for more than this machine holds (the data set, "
                     "--batch and --steps, --max-n)\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "logitloss_experiments " << s.study << ": error: " << without_backtrace(e.what()) << "\n";
        return 1;
    }
}
