// logitloss against the tools people use today, in one run (Google
// Benchmark). Names: <type>/<op>/<implementation>/<N>, op one of
//   fb       mean BCE-with-logits loss and d(loss)/dx in one call
//   forward  the mean loss alone
//   sigmoid  array sigmoid
//   sigmoid_backward  grad_out * sigmoid'(x) (torch: at::sigmoid_backward
//            from the saved output, which reads and writes as much)
// Counters: items/s (elements) and bytes/s (the bytes each op must move:
// fb reads x and y and writes the gradient, forward reads x and y, sigmoid
// reads x and writes the output, sigmoid_backward reads x and grad_out and
// writes the gradient). scripts/bench-report turns the JSON into
// ns/element and ratios.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <logitloss/dispatch.hpp>
#include <logitloss/logitloss.hpp>

#include "peers.hpp"
#include "scalar_baseline.hpp"
#include "scalar_loops.hpp"

#if LOGITLOSS_BENCH_TORCH
#include <torch/torch.h>
#endif

namespace ll = logitloss;

namespace {

template <class T>
struct dataset {
    std::vector<T> x, y, out;
};

// One dataset per (type, N), shared by every implementation: logits from
// N(0, 4) (a trained network's range), hard targets.
template <class T>
dataset<T>& data(std::size_t n) {
    static std::map<std::size_t, std::unique_ptr<dataset<T>>> cache;
    auto& slot = cache[n];
    if (!slot) {
        slot = std::make_unique<dataset<T>>();
        std::mt19937_64 rng(n);
        std::normal_distribution<double> logit(0.0, 4.0);
        slot->x.resize(n);
        slot->y.resize(n);
        slot->out.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            slot->x[i] = static_cast<T>(logit(rng));
            slot->y[i] = static_cast<T>(rng() & 1);
        }
    }
    return *slot;
}

template <class T>
void finish(benchmark::State& state, std::size_t n, int streams) {
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n) * streams *
                            static_cast<std::int64_t>(sizeof(T)));
}

// fb kernels share the signature T(const T*, const T*, size_t, T*).
template <class T, class F>
void bench_fb(benchmark::State& state, F f) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    for (auto _ : state) {
        T loss = f(d.x.data(), d.y.data(), n, d.out.data());
        benchmark::DoNotOptimize(loss);
        benchmark::ClobberMemory();
    }
    finish<T>(state, n, 3);
}
template <class T, class F>
void bench_forward(benchmark::State& state, F f) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    for (auto _ : state) {
        T loss = f(d.x.data(), d.y.data(), n);
        benchmark::DoNotOptimize(loss);
    }
    finish<T>(state, n, 2);
}
template <class T, class F>
void bench_sigmoid(benchmark::State& state, F f) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    for (auto _ : state) {
        f(d.x.data(), n, d.out.data());
        benchmark::DoNotOptimize(d.out.data());
        benchmark::ClobberMemory();
    }
    finish<T>(state, n, 2);
}

// grad_out for sigmoid_backward: N(0, 1), one vector per (type, N).
template <class T>
std::vector<T>& grads(std::size_t n) {
    static std::map<std::size_t, std::vector<T>> cache;
    auto& g = cache[n];
    if (g.empty()) {
        std::mt19937_64 rng(n + 1);
        std::normal_distribution<double> normal(0.0, 1.0);
        g.resize(n);
        for (auto& v : g) v = static_cast<T>(normal(rng));
    }
    return g;
}
template <class T, class F>
void bench_sigmoid_backward(benchmark::State& state, F f) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    const auto& g = grads<T>(n);
    for (auto _ : state) {
        f(d.x.data(), g.data(), n, d.out.data());
        benchmark::DoNotOptimize(d.out.data());
        benchmark::ClobberMemory();
    }
    finish<T>(state, n, 3);
}

// logitloss as a program built without -march calls it: the dispatch
// library, whose SIMD path is chosen at run time (PyTorch defaults: mean,
// inputs checked); and with the value check off.
template <class T>
T ll_fb(const T* x, const T* y, std::size_t n, T* g) {
    return ll::dispatch::bce_with_logits_forward_backward(x, y, n, g);
}
template <class T>
T ll_fb_unchecked(const T* x, const T* y, std::size_t n, T* g) {
    ll::options<T> o;
    o.check = false;
    return ll::dispatch::bce_with_logits_forward_backward(x, y, n, g, o);
}
template <class T>
T ll_forward(const T* x, const T* y, std::size_t n) {
    ll::options<T> o;
    o.check = false;
    return ll::dispatch::bce_with_logits_forward(x, y, n, o);
}
template <class T>
void ll_sigmoid(const T* x, std::size_t n, T* out) {
    ll::dispatch::sigmoid(x, n, out);
}
template <class T>
void ll_sigmoid_backward(const T* x, const T* g, std::size_t n, T* out) {
    ll::dispatch::sigmoid_backward(x, g, n, out);
}
// The header templates compiled into this program with its flags
// (LOGITLOSS_BENCH_FLAGS, -march=native by default).
template <class T>
T ll_native_fb(const T* x, const T* y, std::size_t n, T* g) {
    return ll::bce_with_logits_forward_backward(x, y, n, g);
}
template <class T>
T ll_native_forward(const T* x, const T* y, std::size_t n) {
    ll::options<T> o;
    o.check = false;
    return ll::bce_with_logits_forward(x, y, n, o);
}
template <class T>
void ll_native_sigmoid(const T* x, std::size_t n, T* out) {
    ll::sigmoid(x, n, out);
}
template <class T>
void ll_native_sigmoid_backward(const T* x, const T* g, std::size_t n, T* out) {
    ll::sigmoid_backward(x, g, n, out);
}
// Every hardware thread (options.threads = 0); same bits as one thread.
template <class T>
T ll_fb_threads(const T* x, const T* y, std::size_t n, T* g) {
    ll::options<T> o;
    o.threads = 0;
    return ll::dispatch::bce_with_logits_forward_backward(x, y, n, g, o);
}
#if LOGITLOSS_BENCH_TORCH
// LibTorch's intra-op thread count for the scope of one benchmark.
class torch_threads {
public:
    explicit torch_threads(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
    ~torch_threads() { at::set_num_threads(saved_); }
    torch_threads(const torch_threads&) = delete;
    torch_threads& operator=(const torch_threads&) = delete;

private:
    int saved_;
};

// A 1-D tensor over the dataset's memory (no copy).
template <class T>
torch::Tensor view(std::vector<T>& v) {
    return torch::from_blob(v.data(), {static_cast<std::int64_t>(v.size())},
                            sizeof(T) == 4 ? torch::kFloat32 : torch::kFloat64);
}

// LibTorch: binary_cross_entropy_with_logits forward and its autograd
// backward, on tensors viewing the same data.
template <class T>
void bench_torch_fb(benchmark::State& state, int threads) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    const torch_threads scope(threads);
    auto x = view(d.x).requires_grad_(true);
    auto y = view(d.y);
    for (auto _ : state) {
        auto loss = torch::binary_cross_entropy_with_logits(x, y);
        auto grad = torch::autograd::grad({loss}, {x});
        benchmark::DoNotOptimize(grad[0].data_ptr());
        benchmark::ClobberMemory();
    }
    finish<T>(state, n, 3);
}
template <class T>
void bench_torch_forward(benchmark::State& state, int threads) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    const torch_threads scope(threads);
    torch::NoGradGuard no_grad;
    auto x = view(d.x), y = view(d.y);
    for (auto _ : state) {
        auto loss = torch::binary_cross_entropy_with_logits(x, y);
        benchmark::DoNotOptimize(loss.data_ptr());
    }
    finish<T>(state, n, 2);
}
template <class T>
void bench_torch_sigmoid(benchmark::State& state, int threads) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    const torch_threads scope(threads);
    torch::NoGradGuard no_grad;
    auto x = view(d.x), out = view(d.out);
    for (auto _ : state) {
        torch::sigmoid_out(out, x);
        benchmark::ClobberMemory();
    }
    finish<T>(state, n, 2);
}
// ATen's sigmoid backward, as autograd runs it: from grad_out and the
// output y = sigmoid(x) that the forward saved (computed once, untimed).
template <class T>
void bench_torch_sigmoid_backward(benchmark::State& state, int threads) {
    const auto n = static_cast<std::size_t>(state.range(0));
    auto& d = data<T>(n);
    auto& g = grads<T>(n);
    const torch_threads scope(threads);
    torch::NoGradGuard no_grad;
    const auto y = torch::sigmoid(view(d.x));
    auto grad_out = view(g), out = view(d.out);
    for (auto _ : state) {
        at::sigmoid_backward_out(out, grad_out, y);
        benchmark::ClobberMemory();
    }
    finish<T>(state, n, 3);
}
#endif

// The peers written here, and the baseline-target scalar rows, must compute
// what logitloss computes, or the benchmark compares different things: on
// one dataset, each loss within a relative tolerance of logitloss's, each
// gradient element within a few ulp of 1/n, each sigmoid within a few ulp of
// 1 (float sums and exp/log1p of 1 to 3 ulp allow for no less). Returns the
// number of disagreements, each printed.
template <class T>
int check_peers(const char* type) {
    constexpr std::size_t n = 4096;
    const bool f32 = sizeof(T) == 4;
    const double loss_tol = f32 ? 1e-4 : 1e-12, unit_tol = f32 ? 1e-6 : 1e-14;
    auto& d = data<T>(n);
    std::vector<T> want_g(n), got(n);
    const double want = static_cast<double>(ll_fb<T>(d.x.data(), d.y.data(), n, want_g.data()));
    int bad = 0;
    const auto report = [&](const std::string& what, double peer, double ours) {
        std::fprintf(stderr, "logitloss_bench: %s/%s disagrees with logitloss: %.17g against %.17g\n", type,
                     what.c_str(), peer, ours);
        ++bad;
    };
    const auto loss = [&](const std::string& what, T peer) {
        if (!(std::fabs(static_cast<double>(peer) - want) <= loss_tol * std::fabs(want))) report(what, static_cast<double>(peer), want);
    };
    const auto elements = [&](const std::string& what, const std::vector<T>& ours, double tol) {
        for (std::size_t i = 0; i < n; ++i)
            if (!(std::fabs(static_cast<double>(got[i]) - static_cast<double>(ours[i])) <= tol)) {
                report(what + " at index " + std::to_string(i), static_cast<double>(got[i]), static_cast<double>(ours[i]));
                return;
            }
    };
    const auto fb = [&](const std::string& name, auto f) {
        loss("fb/" + name + " loss", f(d.x.data(), d.y.data(), n, got.data()));
        elements("fb/" + name + " gradient", want_g, unit_tol / static_cast<double>(n));
    };
    fb("naive", peers::naive_fb<T>);
    fb("eigen", peers::eigen_fb<T>);
    fb("logitloss_scalar_baseline", bench_baseline::scalar_fb<T>);
#ifdef LOGITLOSS_BENCH_HAVE_SLEEF
    fb("sleef", [](const T* x, const T* y, std::size_t m, T* g) { return peers::sleef_fb(x, y, m, g); });
#endif
#ifdef LOGITLOSS_BENCH_HAVE_HWY
    fb("highway", peers::hwy_fb<T>);
#endif
    loss("forward/naive", peers::naive_forward<T>(d.x.data(), d.y.data(), n));
    loss("forward/eigen", peers::eigen_forward<T>(d.x.data(), d.y.data(), n));
    std::vector<T> want_s(n);
    ll_sigmoid<T>(d.x.data(), n, want_s.data());
    peers::naive_sigmoid<T>(d.x.data(), n, got.data());
    elements("sigmoid/naive", want_s, unit_tol);
    peers::eigen_sigmoid<T>(d.x.data(), n, got.data());
    elements("sigmoid/eigen", want_s, unit_tol);
    bench_baseline::scalar_sigmoid<T>(d.x.data(), n, got.data());
    elements("sigmoid/logitloss_scalar_baseline", want_s, unit_tol);
    // sigmoid_backward: the naive form loses its tails to 1 - s, within
    // about an ulp of 1 times |grad_out| (absolute) on this dataset's range.
    const auto& g = grads<T>(n);
    std::vector<T> want_b(n);
    ll_sigmoid_backward<T>(d.x.data(), g.data(), n, want_b.data());
    peers::naive_sigmoid_backward<T>(d.x.data(), g.data(), n, got.data());
    elements("sigmoid_backward/naive", want_b, 4 * unit_tol);
    peers::eigen_sigmoid_backward<T>(d.x.data(), g.data(), n, got.data());
    elements("sigmoid_backward/eigen", want_b, 4 * unit_tol);
    return bad;
}

template <class T>
void register_type(const std::string& type, const std::vector<std::int64_t>& sizes) {
    auto reg = [&](const std::string& name, auto fn) {
        auto* b = benchmark::RegisterBenchmark((type + "/" + name).c_str(), fn);
        for (auto n : sizes) b->Arg(n);
        b->Unit(benchmark::kMicrosecond)->UseRealTime();
    };
    reg("fb/logitloss", [](benchmark::State& s) { bench_fb<T>(s, ll_fb<T>); });
    reg("fb/logitloss_unchecked", [](benchmark::State& s) { bench_fb<T>(s, ll_fb_unchecked<T>); });
    reg("fb/logitloss_native", [](benchmark::State& s) { bench_fb<T>(s, ll_native_fb<T>); });
    reg("fb/logitloss_" + std::to_string(std::max(1u, std::thread::hardware_concurrency())) + "threads",
        [](benchmark::State& s) { bench_fb<T>(s, ll_fb_threads<T>); });
    reg("fb/logitloss_scalar", [](benchmark::State& s) { bench_fb<T>(s, scalar_loops::fb<T>); });
    reg("fb/logitloss_scalar_baseline", [](benchmark::State& s) { bench_fb<T>(s, bench_baseline::scalar_fb<T>); });
    reg("fb/naive", [](benchmark::State& s) { bench_fb<T>(s, peers::naive_fb<T>); });
    reg("fb/eigen", [](benchmark::State& s) { bench_fb<T>(s, peers::eigen_fb<T>); });
#ifdef LOGITLOSS_BENCH_HAVE_SLEEF
    reg("fb/sleef", [](benchmark::State& s) {
        bench_fb<T>(s, [](const T* x, const T* y, std::size_t n, T* g) { return peers::sleef_fb(x, y, n, g); });
    });
#endif
#ifdef LOGITLOSS_BENCH_HAVE_HWY
    reg("fb/highway", [](benchmark::State& s) { bench_fb<T>(s, peers::hwy_fb<T>); });
#endif
    reg("fb/floor", [](benchmark::State& s) { bench_fb<T>(s, peers::floor_fb<T>); });
    reg("forward/logitloss", [](benchmark::State& s) { bench_forward<T>(s, ll_forward<T>); });
    reg("forward/logitloss_native", [](benchmark::State& s) { bench_forward<T>(s, ll_native_forward<T>); });
    reg("forward/naive", [](benchmark::State& s) { bench_forward<T>(s, peers::naive_forward<T>); });
    reg("forward/eigen", [](benchmark::State& s) { bench_forward<T>(s, peers::eigen_forward<T>); });
    reg("forward/floor", [](benchmark::State& s) { bench_forward<T>(s, peers::floor_forward<T>); });
    reg("sigmoid/logitloss", [](benchmark::State& s) { bench_sigmoid<T>(s, ll_sigmoid<T>); });
    reg("sigmoid/logitloss_native", [](benchmark::State& s) { bench_sigmoid<T>(s, ll_native_sigmoid<T>); });
    reg("sigmoid/logitloss_scalar", [](benchmark::State& s) { bench_sigmoid<T>(s, scalar_loops::sigmoid<T>); });
    reg("sigmoid/logitloss_scalar_baseline",
        [](benchmark::State& s) { bench_sigmoid<T>(s, bench_baseline::scalar_sigmoid<T>); });
    reg("sigmoid/naive", [](benchmark::State& s) { bench_sigmoid<T>(s, peers::naive_sigmoid<T>); });
    reg("sigmoid/eigen", [](benchmark::State& s) { bench_sigmoid<T>(s, peers::eigen_sigmoid<T>); });
    reg("sigmoid/floor", [](benchmark::State& s) { bench_sigmoid<T>(s, peers::floor_sigmoid<T>); });
    reg("sigmoid_backward/logitloss", [](benchmark::State& s) { bench_sigmoid_backward<T>(s, ll_sigmoid_backward<T>); });
    reg("sigmoid_backward/logitloss_native",
        [](benchmark::State& s) { bench_sigmoid_backward<T>(s, ll_native_sigmoid_backward<T>); });
    reg("sigmoid_backward/naive",
        [](benchmark::State& s) { bench_sigmoid_backward<T>(s, peers::naive_sigmoid_backward<T>); });
    reg("sigmoid_backward/eigen",
        [](benchmark::State& s) { bench_sigmoid_backward<T>(s, peers::eigen_sigmoid_backward<T>); });
    reg("sigmoid_backward/floor",
        [](benchmark::State& s) { bench_sigmoid_backward<T>(s, peers::floor_sigmoid_backward<T>); });
#if LOGITLOSS_BENCH_TORCH
    const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    reg("fb/torch_1thread", [](benchmark::State& s) { bench_torch_fb<T>(s, 1); });
    reg("fb/torch_" + std::to_string(all) + "threads", [all](benchmark::State& s) { bench_torch_fb<T>(s, all); });
    reg("forward/torch_1thread", [](benchmark::State& s) { bench_torch_forward<T>(s, 1); });
    reg("sigmoid/torch_1thread", [](benchmark::State& s) { bench_torch_sigmoid<T>(s, 1); });
    reg("sigmoid_backward/torch_1thread", [](benchmark::State& s) { bench_torch_sigmoid_backward<T>(s, 1); });
#endif
}

}  // namespace

int main(int argc, char** argv) {
    // Sizes: LOGITLOSS_BENCH_SIZES="1024,16384,..." overrides the default
    // 1K ... 64M.
    std::vector<std::int64_t> sizes = {1 << 10, 1 << 14, 1 << 17, 1 << 20, 1 << 22, 1 << 24, 1 << 26};
    if (const char* env = std::getenv("LOGITLOSS_BENCH_SIZES")) {
        sizes.clear();
        std::string s(env);
        for (std::size_t p = 0; p < s.size();) {
            const std::size_t q = s.find(',', p);
            sizes.push_back(std::stoll(s.substr(p, q - p)));
            p = q == std::string::npos ? s.size() : q + 1;
        }
    }
    if (check_peers<float>("f32") + check_peers<double>("f64") != 0) return 1;
    register_type<float>("f32", sizes);
    register_type<double>("f64", sizes);
    benchmark::AddCustomContext("logitloss_arch", xsimd::default_arch::name());
    benchmark::AddCustomContext("logitloss_dispatch_path", ll::dispatch::path());
    benchmark::AddCustomContext("compiler", LOGITLOSS_BENCH_COMPILER);
    benchmark::AddCustomContext("flags", LOGITLOSS_BENCH_FLAGS);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
