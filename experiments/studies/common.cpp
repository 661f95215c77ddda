// studies/common.cpp — device, data, model, losses and statistics shared by
// the studies (torch_common.hpp).
#include "torch_common.hpp"

#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>

#include <logitloss/diagnostics.hpp>

#include "data/celeba.hpp"
#include "data/synth.hpp"
#include "ops/ops.hpp"

#if defined(LOGITLOSS_STUDIES_CUDA)
#include <cuda_runtime_api.h>  // the GPU's name and L2 size; the CUDA runtime only, not ATen's CUDA headers
#endif

namespace logitloss::experiments::studies {

namespace cb = logitloss::experiments::celeba;

// ---- device -------------------------------------------------------------------

torch::Device setup_device(const settings& s, bool ours) {
    if (s.threads > 0) at::set_num_threads(s.threads);
    if (s.device == "cuda") {
        if (!torch::cuda::is_available())
            throw std::runtime_error("--device cuda: LibTorch sees no CUDA device (a CPU-only LibTorch, or no GPU)");
        if (ours && !logitloss::torch_ops::cuda_enabled())
            throw std::runtime_error(
                "--loss-impl ours on cuda needs logitloss_torch_ops built with -DLOGITLOSS_EXPERIMENTS_CUDA=ON");
        auto& context = at::globalContext();
        context.setAllowTF32CuDNN(s.tf32);
        context.setAllowTF32CuBLAS(false);
        // --compare needs two runs of the same computation to give the same
        // bits: deterministic convolution algorithms, no autotuning. Else
        // the fastest algorithms.
        context.setDeterministicCuDNN(s.compare);
        context.setBenchmarkCuDNN(!s.compare);
        return torch::Device(torch::kCUDA, 0);
    }
    if (s.tf32) std::cerr << "logitloss_experiments: warning: --tf32 has no effect on the CPU\n";
    return torch::Device(torch::kCPU);
}

void synchronize(const torch::Device& device) {
    if (device.is_cuda()) torch::cuda::synchronize();
}

namespace {

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string name = line.substr(colon + 1);
                name.erase(0, name.find_first_not_of(" \t"));
                return name;
            }
        }
    }
    return "unknown CPU";
}

#if defined(LOGITLOSS_STUDIES_CUDA)
// CUDA device 0's properties, read once (every report asks); null where
// they cannot be read (the error is cleared, not left for a later launch).
const cudaDeviceProp* device0_properties() {
    static const std::optional<cudaDeviceProp> props = []() -> std::optional<cudaDeviceProp> {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) return p;
        static_cast<void>(cudaGetLastError());
        return std::nullopt;
    }();
    return props ? &*props : nullptr;
}
#endif

}  // namespace

std::uint64_t cuda_l2_bytes(const torch::Device& device) {
#if defined(LOGITLOSS_STUDIES_CUDA)
    const cudaDeviceProp* props = device.is_cuda() ? device0_properties() : nullptr;
    if (props != nullptr && props->l2CacheSize > 0) return static_cast<std::uint64_t>(props->l2CacheSize);
#else
    static_cast<void>(device);
#endif
    return 0;
}

std::string describe_device(const settings& s) {
    std::string libtorch = std::string("LibTorch ") + TORCH_VERSION;
    if (s.device == "cuda" && torch::cuda::is_available()) {
        std::string gpu = "CUDA device 0";
#if defined(LOGITLOSS_STUDIES_CUDA)
        if (const cudaDeviceProp* props = device0_properties())
            gpu = std::string(props->name) + ", " + fixed(static_cast<double>(props->totalGlobalMem) / (1u << 30), 0) +
                  " GiB";
#endif
        return "cuda: " + gpu + "; " + libtorch + "; TF32 convolutions " + (s.tf32 ? "on" : "off") +
               "; host " + cpu_model();
    }
    const int threads = at::get_num_threads();
    return "cpu: " + cpu_model() + ", " + std::to_string(threads) + (threads == 1 ? " LibTorch thread; " : " LibTorch threads; ") +
           libtorch;
}

// ---- data -----------------------------------------------------------------------

std::filesystem::path data_folder(const settings& s) {
    const std::filesystem::path root = s.data.empty() ? s.out / "synthetic" : s.data;
    // celeba::synth writes the attribute list last, whole or not at all.
    if (std::filesystem::exists(root / std::string(cb::attributes_file))) {
        if (s.synthetic > 0)
            std::cerr << "[" << s.study << "] " << root.string() << " holds a data set already: using it (--synthetic "
                      << s.synthetic << " writes only into a folder without one)\n";
        return root;
    }
    if (s.synthetic == 0) {
        if (s.data.empty())
            throw std::runtime_error(s.study + " needs images: --data DIR (CelebA layout) or --synthetic N");
        throw std::runtime_error(root.string() + " holds no " + std::string(cb::attributes_file) +
                                 ": give a CelebA-layout folder, or add --synthetic N to write a synthetic one there");
    }
    cb::synth::options o;
    o.out = root;
    o.count = s.synthetic;
    o.seed = s.seed;
    o.threads = std::max(1u, std::thread::hardware_concurrency());
    std::cerr << "[" << s.study << "] writing " << s.synthetic << " synthetic images to " << root.string() << "\n";
    const auto written = cb::synth::write_dataset(o);
    std::cerr << "[" << s.study << "] " << written.images << " images (" << written.smiling << " smiling): train "
              << written.partition.train << ", valid " << written.partition.valid << ", test "
              << written.partition.test << "\n";
    return root;
}

namespace {

image_set load_split(const cb::dataset& ds, std::size_t limit, int input, const torch::Device& device) {
    const std::size_t n = std::min(limit, ds.size());
    if (n == 0)
        throw std::runtime_error(ds.root().string() + ": the " + cb::split_name(ds.which()) + " split is empty");
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    cb::prefetcher loader(ds, order, 256, threads, 4);
    const auto side = static_cast<std::int64_t>(input);
    torch::Tensor images = torch::empty({static_cast<std::int64_t>(n), 3, side, side});
    torch::Tensor labels = torch::empty({static_cast<std::int64_t>(n), 1});
    cb::batch b;
    std::int64_t offset = 0;
    const std::int64_t full = 128;  // the preprocessing's output side
    while (loader.next(b)) {
        const auto count = static_cast<std::int64_t>(b.size());
        torch::Tensor t = torch::from_blob(b.images.data(), {count, 3, full, full});
        // 128 -> 64 or 32: the mean of 2x2 or 4x4 blocks (area averaging);
        // 96: adaptive pooling's windows of 2 pixels, which overlap.
        if (side != full) t = torch::adaptive_avg_pool2d(t, {side, side});
        images.narrow(0, offset, count).copy_(t);
        labels.narrow(0, offset, count).copy_(torch::from_blob(b.labels.data(), {count, 1}));
        offset += count;
    }
    return {images.to(device), labels.to(device)};
}

}  // namespace

data_sets load_data(const settings& s, const plan& p, const torch::Device& device, bool with_test) {
    if (p.input > 128 || p.input % 32 != 0)
        throw std::runtime_error("--input must be a multiple of 32 up to 128 (the images are 128x128), got " +
                                 std::to_string(p.input));
    const auto start = std::chrono::steady_clock::now();
    data_sets d;
    d.root = data_folder(s);
    const cb::dataset train(d.root, cb::split::train);
    d.train_split = train.size();
    d.train = load_split(train, p.train_images, p.input, device);
    if (with_test) {
        const cb::dataset test(d.root, cb::split::test);
        d.test_split = test.size();
        d.test = load_split(test, p.test_images, p.input, device);
    }
    const double seconds = seconds_since(start);
    const auto smiling = [](const image_set& x) {
        return x.size() ? static_cast<std::size_t>(x.labels.sum().item<double>()) : std::size_t(0);
    };
    std::ostringstream o;
    o << d.root.string() << ": " << d.train.size() << " of " << d.train_split << " train images ("
      << smiling(d.train) << " smiling)";
    if (with_test) o << ", " << d.test.size() << " of " << d.test_split << " test images (" << smiling(d.test) << " smiling)";
    o << "; decoded in " << duration(seconds);
    d.description = o.str();
    std::cerr << "[" << s.study << "] " << d.description << "\n";
    return d;
}

// ---- losses and model -----------------------------------------------------------

const char* loss_label(loss_fn f) { return f == loss_fn::bce_with_logits ? "BCEWithLogitsLoss" : "Sigmoid+BCELoss"; }
const char* loss_key(loss_fn f) { return f == loss_fn::bce_with_logits ? "bce_with_logits" : "sigmoid_bce"; }

torch::Tensor loss_of(loss_fn f, loss_impl impl, const torch::Tensor& logits, const torch::Tensor& targets) {
    namespace ops = logitloss::torch_ops;
    if (impl == loss_impl::native) {
        return f == loss_fn::bce_with_logits ? torch::binary_cross_entropy_with_logits(logits, targets)
                                             : torch::binary_cross_entropy(torch::sigmoid(logits), targets);
    }
    // The targets are 0 or 1 by construction and a sigmoid is in [0, 1];
    // torch checks no logits (a non-finite logit stops the run before this),
    // and checks probabilities with device-side assertions that cost no
    // wait. Ours check nothing here: on CUDA a value check waits for its
    // answer, which would be timed against torch in every step.
    return f == loss_fn::bce_with_logits
               ? ops::binary_cross_entropy_with_logits(logits, targets, c10::nullopt, c10::nullopt, "mean", false)
               : ops::binary_cross_entropy(ops::sigmoid_aten(logits), targets, c10::nullopt, "mean", false);
}

VGG16 make_model(const plan& p, init initialization, bool batch_norm, std::uint64_t seed,
                 const torch::Device& device) {
    vgg16_options o;
    o.width = p.width;
    o.input_size = p.input;
    o.batch_norm = batch_norm;
    o.initialization = initialization;
    // The weights are drawn on the CPU's generator: the same seed gives the
    // same model on every device.
    torch::manual_seed(seed);
    VGG16 m(o);
    m->to(device);
    return m;
}

logit_stats stats_of(const torch::Tensor& logits) {
    const torch::Tensor c = logits.detach().to(torch::kCPU, torch::kFloat).contiguous().flatten();
    const auto n = static_cast<std::size_t>(c.numel());
    const float* x = c.data_ptr<float>();
    logit_stats r;
    if (n == 0) return r;
    double sum = 0;
    std::size_t saturated = 0;
    r.min = r.max = x[0];
    for (std::size_t i = 0; i < n; ++i) {
        const double v = x[i];
        r.finite = r.finite && std::isfinite(v);
        sum += v;
        r.min = std::min(r.min, v);
        r.max = std::max(r.max, v);
        saturated += std::fabs(x[i]) >= logitloss::thresholds<float>::naive_sigmoid_one ? 1 : 0;
    }
    r.mean = sum / static_cast<double>(n);
    double squares = 0;
    for (std::size_t i = 0; i < n; ++i) squares += (x[i] - r.mean) * (x[i] - r.mean);
    // Bessel's correction, as torch's std() (the original investigation's numbers).
    r.std = n > 1 ? std::sqrt(squares / static_cast<double>(n - 1)) : 0.0;
    r.saturated_pct = 100.0 * static_cast<double>(saturated) / static_cast<double>(n);
    r.dead_pct = 100.0 * logitloss::saturation(x, n).fraction_dead();
    return r;
}

double accuracy(VGG16& model, const image_set& data, int batch) {
    torch::NoGradGuard no_grad;
    model->eval();
    std::int64_t correct = 0;
    const auto n = static_cast<std::int64_t>(data.size());
    for (std::int64_t offset = 0; offset < n; offset += batch) {
        const std::int64_t count = std::min<std::int64_t>(batch, n - offset);
        const torch::Tensor logits = model->forward(data.images.narrow(0, offset, count));
        const torch::Tensor predicted = logits.gt(0).to(torch::kFloat);
        correct += predicted.eq(data.labels.narrow(0, offset, count)).sum().item<std::int64_t>();
    }
    model->train();
    return n ? 100.0 * static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

// ---- random streams -------------------------------------------------------------

std::vector<std::int64_t> batch_order(std::size_t n, std::size_t count, std::uint64_t seed) {
    // Fisher-Yates on the data layer's own generator: the same order on
    // every platform (std::shuffle's is the library's choice).
    cb::synth::rng r(seed);
    std::vector<std::int64_t> order;
    order.reserve(count + n);
    std::vector<std::int64_t> epoch(n);
    while (order.size() < count) {
        for (std::size_t i = 0; i < n; ++i) epoch[i] = static_cast<std::int64_t>(i);
        for (std::size_t i = n; i > 1; --i) std::swap(epoch[i - 1], epoch[r.next() % i]);
        order.insert(order.end(), epoch.begin(), epoch.end());
    }
    order.resize(count);
    return order;
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
    std::uint64_t state = a ^ (b * 0x9E3779B97F4A7C15ULL);
    return cb::synth::splitmix64(state);
}

std::string lr_text(double lr) {
    if (lr > 0 && lr < 0.01) {
        const double e = std::floor(std::log10(lr) + 1e-9);
        const double m = lr / std::pow(10.0, e);
        if (std::fabs(m - std::round(m)) < 1e-6) return std::to_string(std::lround(m)) + "e" + std::to_string(std::lround(e));
    }
    return general(lr, 6);
}

}  // namespace logitloss::experiments::studies
