// The dispatcher of the logitloss::dispatch library: picks one of the
// compiled paths (src/dispatch_path.cpp) by what the CPU and the operating
// system support, and runs the kernels' common part (validation, threads,
// merging the blocks' partial sums) around that path's loops. Compiled for
// the baseline of the target, without LOGITLOSS_ABI_TAG.
#include <logitloss/dispatch.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#if LOGITLOSS_DISPATCH_X86 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

using logitloss::kernel_abi::arch_kernels;

extern "C" {
#if LOGITLOSS_DISPATCH_X86
const arch_kernels* logitloss_dispatch_avx512bw() noexcept;
const arch_kernels* logitloss_dispatch_avx2_fma() noexcept;
const arch_kernels* logitloss_dispatch_sse2() noexcept;
#else
const arch_kernels* logitloss_dispatch_default() noexcept;
#endif
}

namespace logitloss {
namespace dispatch {
namespace {

#if LOGITLOSS_DISPATCH_X86
// The register state the operating system saves on context switches (XCR0):
// AVX needs SSE and AVX state (bits 1, 2); AVX-512 also the opmask and the
// upper halves of zmm0-15 and zmm16-31 (bits 5, 6, 7). A CPU's AVX flags
// alone do not mean the OS lets programs use the registers.
std::uint64_t os_saved_state() noexcept {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & (1u << 27)) == 0) return 0;  // OSXSAVE
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (std::uint64_t(hi) << 32) | lo;
}

// AVX-512 VL (CPUID leaf 7, EBX bit 31), which xsimd 8.1 does not report:
// the path is compiled with it (it lets the compiler use the EVEX forms of
// 128- and 256-bit instructions; measured 10% faster here).
bool avx512vl() noexcept {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b >> 31) != 0;
}

bool avx512bw_runs() noexcept {
    const auto a = xsimd::available_architectures();
    return a.avx512f && a.avx512cd && a.avx512dq && a.avx512bw && avx512vl() && a.fma3_avx2 &&
           (os_saved_state() & 0xE6) == 0xE6;
}
bool avx2_fma_runs() noexcept {
    const auto a = xsimd::available_architectures();
    return a.fma3_avx2 && (os_saved_state() & 0x6) == 0x6;
}
bool sse2_runs() noexcept { return xsimd::available_architectures().sse2 != 0; }
#endif

struct candidate {
    const arch_kernels* (*kernels)() noexcept;
    bool (*runs)() noexcept;
};

// Widest first.
constexpr candidate candidates[] = {
#if LOGITLOSS_DISPATCH_X86
    {&logitloss_dispatch_avx512bw, &avx512bw_runs},
    {&logitloss_dispatch_avx2_fma, &avx2_fma_runs},
    {&logitloss_dispatch_sse2, &sse2_runs},
#else
    {&logitloss_dispatch_default, [] () noexcept { return true; }},
#endif
};

const arch_kernels* find(const std::string& name) noexcept {
    for (const auto& c : candidates)
        if ((name.empty() || name == c.kernels()->name) && c.runs()) return c.kernels();
    return nullptr;
}

// The first choice: LOGITLOSS_SIMD if set (an error if it names no
// available path: a benchmark or test asked for a path it would not get),
// else the widest.
const arch_kernels* initial() {
    const char* env = std::getenv("LOGITLOSS_SIMD");
    const std::string wanted = env != nullptr ? env : "";
    const arch_kernels* k = find(wanted);
    if (k == nullptr)
        throw std::runtime_error("logitloss::dispatch: LOGITLOSS_SIMD=" + wanted +
                                 " is not a SIMD path this library has and this CPU runs");
    return k;
}

std::atomic<const arch_kernels*> chosen{nullptr};

const arch_kernels& current() {
    const arch_kernels* k = chosen.load(std::memory_order_acquire);
    if (k == nullptr) {
        static const arch_kernels* const first = initial();  // thread-safe, once
        const arch_kernels* expected = nullptr;
        chosen.compare_exchange_strong(expected, first, std::memory_order_acq_rel);
        k = chosen.load(std::memory_order_acquire);
    }
    return *k;
}

template <class T>
const kernel_abi::kernel_table<T>& table() {
    if constexpr (std::is_same<T, float>::value) {
        return current().f32;
    } else {
        return current().f64;
    }
}

template <bool WantGrad, class T>
T run(const char* fn, detail::inputs kind, const T* x, const T* y, std::size_t n, T* grad, const options<T>& o) {
    const auto& t = table<T>();
    kernel_abi::loss_kind k;
    if (kind == detail::inputs::probabilities) {
        k = WantGrad ? kernel_abi::probabilities_value_and_grad : kernel_abi::probabilities_value;
    } else if (o.pos_weight.empty()) {
        k = WantGrad ? kernel_abi::logits_value_and_grad_unit : kernel_abi::logits_value_unit;
    } else {
        k = WantGrad ? kernel_abi::logits_value_and_grad : kernel_abi::logits_value;
    }
    return detail::run_loss_with<WantGrad>(fn, kind, x, y, n, grad, o, t.loss[k], t.in_range);
}

template <class T>
void map(const char* fn, kernel_abi::map_fn<T> f, const T* x, std::size_t n, T* out) {
    detail::check_map(fn, x, n, out);
    f(x, n, out);
}
template <class T>
void map2(const char* fn, kernel_abi::map2_fn<T> f, const T* x, const T* grad_out, std::size_t n, T* grad_in) {
    detail::check_map2(fn, x, grad_out, n, grad_in);
    f(x, grad_out, n, grad_in);
}

}  // namespace

float bce_with_logits_forward(const float* logits, const float* targets, std::size_t n, const options<float>& opt) {
    return run<false>("bce_with_logits_forward", detail::inputs::logits, logits, targets, n, static_cast<float*>(nullptr),
                      opt);
}
double bce_with_logits_forward(const double* logits, const double* targets, std::size_t n,
                               const options<double>& opt) {
    return run<false>("bce_with_logits_forward", detail::inputs::logits, logits, targets, n,
                      static_cast<double*>(nullptr), opt);
}
float bce_with_logits_forward_backward(const float* logits, const float* targets, std::size_t n, float* grad_logits,
                                       const options<float>& opt) {
    return run<true>("bce_with_logits_forward_backward", detail::inputs::logits, logits, targets, n, grad_logits,
                     opt);
}
double bce_with_logits_forward_backward(const double* logits, const double* targets, std::size_t n,
                                        double* grad_logits, const options<double>& opt) {
    return run<true>("bce_with_logits_forward_backward", detail::inputs::logits, logits, targets, n, grad_logits,
                     opt);
}

float bce_forward(const float* probabilities, const float* targets, std::size_t n, const options<float>& opt) {
    return run<false>("bce_forward", detail::inputs::probabilities, probabilities, targets, n,
                      static_cast<float*>(nullptr), opt);
}
double bce_forward(const double* probabilities, const double* targets, std::size_t n, const options<double>& opt) {
    return run<false>("bce_forward", detail::inputs::probabilities, probabilities, targets, n,
                      static_cast<double*>(nullptr), opt);
}
float bce_forward_backward(const float* probabilities, const float* targets, std::size_t n,
                           float* grad_probabilities, const options<float>& opt) {
    return run<true>("bce_forward_backward", detail::inputs::probabilities, probabilities, targets, n,
                     grad_probabilities, opt);
}
double bce_forward_backward(const double* probabilities, const double* targets, std::size_t n,
                            double* grad_probabilities, const options<double>& opt) {
    return run<true>("bce_forward_backward", detail::inputs::probabilities, probabilities, targets, n,
                     grad_probabilities, opt);
}

void sigmoid(const float* x, std::size_t n, float* out) { map("sigmoid", table<float>().sigmoid, x, n, out); }
void sigmoid(const double* x, std::size_t n, double* out) { map("sigmoid", table<double>().sigmoid, x, n, out); }
void sigmoid_backward(const float* x, const float* grad_out, std::size_t n, float* grad_in) {
    map2("sigmoid_backward", table<float>().sigmoid_backward, x, grad_out, n, grad_in);
}
void sigmoid_backward(const double* x, const double* grad_out, std::size_t n, double* grad_in) {
    map2("sigmoid_backward", table<double>().sigmoid_backward, x, grad_out, n, grad_in);
}
void softplus(const float* x, std::size_t n, float* out) { map("softplus", table<float>().softplus, x, n, out); }
void softplus(const double* x, std::size_t n, double* out) { map("softplus", table<double>().softplus, x, n, out); }
void log_sigmoid(const float* x, std::size_t n, float* out) {
    map("log_sigmoid", table<float>().log_sigmoid, x, n, out);
}
void log_sigmoid(const double* x, std::size_t n, double* out) {
    map("log_sigmoid", table<double>().log_sigmoid, x, n, out);
}

const char* path() noexcept {
    try {
        return current().name;
    } catch (const std::exception&) {
        return "";  // LOGITLOSS_SIMD names no available path; the kernels throw why
    }
}

std::vector<std::string> available_paths() {
    std::vector<std::string> names;
    for (const auto& c : candidates)
        if (c.runs()) names.emplace_back(c.kernels()->name);
    return names;
}

bool use_path(const std::string& name) {
    const arch_kernels* k = find(name);
    if (k == nullptr) return false;
    chosen.store(k, std::memory_order_release);
    return true;
}

}  // namespace dispatch
}  // namespace logitloss
