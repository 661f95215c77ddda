// logitloss/kernels.hpp — array kernels over contiguous data: a SIMD body
// built from the element-wise formulas, an exact tail, reductions, weights and
// input checks. Needs xsimd (8.1).
//
//   bce_with_logits_forward(logits, targets, n, options)            -> loss
//   bce_with_logits_forward_backward(logits, targets, n, grad, opt)  -> loss, grad
//   bce_forward / bce_forward_backward                (probabilities, ATen BCELoss)
//   sigmoid / softplus / log_sigmoid (x, n, out)
//
// Exact tail: the last n % W elements are copied into a padded batch and go
// through the same SIMD code as the body, so an element's value never depends
// on its position.
//
// Accumulator: sum and mean use 16 (float) or 8 (double) virtual lanes, each
// a double-word (hi + lo, in double) running sum renormalised after every
// addition; float losses are widened to double first. Element i always goes
// to lane i mod 16 (or 8); the lanes of each block of 16,384 elements are
// merged in a fixed order and the blocks' partial sums in block order, so
// the result depends neither on the SIMD width nor on the thread count. The
// error before the final rounding to T is about 2^-104 n sum|l_i|: the sum
// is correctly rounded in practice (within 1 ulp), against n u sum|l_i|
// (u = 2^-24) for a naive float loop.
//
// Threads: options.threads > 1 (or 0 for all) splits the blocks into
// contiguous runs, one per thread, started for the call and joined before
// it returns.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "detail/ops_xsimd.hpp"
#include "formulas.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace logitloss {

// How the per-element losses are combined. PyTorch semantics: mean divides
// the (weighted) sum by the number of elements, not by the sum of weights.
enum class reduction { none, sum, mean };

// A pointer and a length; converts from any contiguous container with
// data() and size() (std::vector, std::array, Eigen plain objects).
template <class T>
class span {
public:
    constexpr span() noexcept = default;
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <class C, class = decltype(std::declval<C&>().data()), class = decltype(std::declval<C&>().size()),
              class = std::enable_if_t<std::is_convertible<decltype(std::declval<C&>().data()), T*>::value>>
    constexpr span(C& c) noexcept : data_(c.data()), size_(static_cast<std::size_t>(c.size())) {}
    [[nodiscard]] constexpr T* data() const noexcept { return data_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

// Options of the loss kernels; the default is PyTorch's default: mean, no
// weights, inputs checked.
template <class T>
struct options {
    reduction reduce = reduction::mean;
    // Per-element rescaling weight (PyTorch `weight`): empty, or n elements >= 0.
    span<const T> weight{};
    // PyTorch `pos_weight` (bce_with_logits only): empty; one value for all
    // elements; or C values, one per class, for n = rows * C elements stored
    // row by row (element i uses pos_weight[i % C]). Values must be >= 0.
    span<const T> pos_weight{};
    // reduction::none: receives the n per-element losses (required then).
    span<T> losses{};
    // Threads to use: 1 (the default) runs on the caller's thread only; 0
    // uses std::thread::hardware_concurrency(). Threads are started per call
    // (no pool is kept) and only for arrays long enough to be worth it; the
    // results are the same bits for every thread count.
    std::size_t threads = 1;
    // Value checks, in one pass before anything is written: targets in [0,1]
    // and not NaN, probabilities in [0,1] (bce), weights and pos_weight >= 0
    // and not NaN. Size and null-pointer checks are always made.
    bool check = true;
};

// What was wrong with the input of an array kernel.
enum class error_kind {
    null_pointer,
    size_mismatch,
    missing_output,
    target_out_of_range,
    probability_out_of_range,
    negative_weight,
    negative_pos_weight,
};

// Thrown by the array kernels on bad input; nothing has been written to any
// output when it is thrown. index() is the first offending element (or the
// offending size for size errors).
class error : public std::invalid_argument {
public:
    error(error_kind kind, std::size_t index, const std::string& what)
        : std::invalid_argument(what), kind_(kind), index_(index) {}
    [[nodiscard]] error_kind kind() const noexcept { return kind_; }
    [[nodiscard]] std::size_t index() const noexcept { return index_; }

private:
    error_kind kind_;
    std::size_t index_;
};

namespace detail {

template <class T>
struct lanes {
    static constexpr std::size_t value = 64 / sizeof(T);  // one AVX-512 register: 16 floats, 8 doubles
};

[[noreturn]] inline void fail(error_kind kind, std::size_t index, const char* function, const std::string& detail) {
    throw error(kind, index, std::string("logitloss::") + function + ": " + detail);
}

template <class T>
std::string describe(T v) {
    return std::isnan(v) ? std::string("nan") : std::to_string(v);
}

enum class inputs { logits, probabilities };

// Whether every p[i] is in [0, 1] (unit) or >= 0 (not unit); NaN is not.
template <class B>
bool all_in_range(const typename B::value_type* p, std::size_t n, bool unit) noexcept {
    using T = typename B::value_type;
    const B zero(T(0)), top(unit ? T(1) : std::numeric_limits<T>::infinity());
    std::size_t i = 0;
    for (; i + B::size <= n; i += B::size) {
        const B v = B::load_unaligned(p + i);
        if (!xsimd::all((v >= zero) & (v <= top))) return false;
    }
    for (; i < n; ++i)
        if (!(p[i] >= T(0) && p[i] <= (unit ? T(1) : std::numeric_limits<T>::infinity()))) return false;
    return true;
}

// Structural and value checks; throws on the first problem. pos_weight is
// checked first (its index is a class index); then the element scan reports
// the lowest bad element index, and at that index the first failing check in
// the order: input (probabilities), target, weight.
template <class B, class T>
void validate(const char* fn, inputs kind, const T* x, const T* y, std::size_t n, const T* grad, bool want_grad,
              const options<T>& o) {
    if (n > 0 && x == nullptr) fail(error_kind::null_pointer, 0, fn, "input pointer is null with n > 0");
    if (n > 0 && y == nullptr) fail(error_kind::null_pointer, 0, fn, "target pointer is null with n > 0");
    if (want_grad && n > 0 && grad == nullptr) fail(error_kind::null_pointer, 0, fn, "gradient pointer is null with n > 0");
    if (!o.weight.empty() || o.weight.data() != nullptr) {
        if (o.weight.size() != n)
            fail(error_kind::size_mismatch, o.weight.size(), fn,
                 "weight has " + std::to_string(o.weight.size()) + " elements, expected " + std::to_string(n));
        if (n > 0 && o.weight.data() == nullptr) fail(error_kind::null_pointer, 0, fn, "weight pointer is null");
    }
    const std::size_t classes = o.pos_weight.size();
    if (classes > 0) {
        if (kind == inputs::probabilities)
            fail(error_kind::size_mismatch, classes, fn, "pos_weight applies to bce_with_logits only");
        if (o.pos_weight.data() == nullptr) fail(error_kind::null_pointer, 0, fn, "pos_weight pointer is null");
        if (n % classes != 0)
            fail(error_kind::size_mismatch, classes, fn,
                 "pos_weight has " + std::to_string(classes) + " elements, which does not divide n = " +
                     std::to_string(n));
    }
    if (o.reduce == reduction::none) {
        if (o.losses.size() != n || (n > 0 && o.losses.data() == nullptr))
            fail(error_kind::missing_output, o.losses.size(), fn,
                 "reduction::none needs options.losses with " + std::to_string(n) + " elements, got " +
                     std::to_string(o.losses.size()));
    } else if (o.losses.size() != 0) {
        fail(error_kind::size_mismatch, o.losses.size(), fn, "options.losses is only written with reduction::none");
    }
    if (!o.check) return;
    const T* w = o.weight.data();
    const T* pw = o.pos_weight.data();
    // A vector pass first; the element scan below only runs to name the
    // first bad index once something is known to be wrong.
    if (all_in_range<B>(y, n, true) && (kind != inputs::probabilities || all_in_range<B>(x, n, true)) &&
        (w == nullptr || all_in_range<B>(w, n, false)) && all_in_range<B>(pw, classes, false))
        return;
    for (std::size_t c = 0; c < classes; ++c) {
        if (!(pw[c] >= T(0)))
            fail(error_kind::negative_pos_weight, c, fn,
                 "pos_weight at index " + std::to_string(c) + " is " + describe(pw[c]) + ", must be >= 0");
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (kind == inputs::probabilities && !(x[i] >= T(0) && x[i] <= T(1)))
            fail(error_kind::probability_out_of_range, i, fn,
                 "probability at index " + std::to_string(i) + " is " + describe(x[i]) + ", must be in [0, 1]");
        if (!(y[i] >= T(0) && y[i] <= T(1)))
            fail(error_kind::target_out_of_range, i, fn,
                 "target at index " + std::to_string(i) + " is " + describe(y[i]) + ", must be in [0, 1]");
        if (w != nullptr && !(w[i] >= T(0)))
            fail(error_kind::negative_weight, i, fn,
                 "weight at index " + std::to_string(i) + " is " + describe(w[i]) + ", must be >= 0");
    }
}

// (s, c) += v, then (s, c) renormalised so that |c| <= ulp(s) / 2.
template <class V>
LOGITLOSS_INLINE void two_sum_renormalised(V& s, V& c, const V& v) noexcept {
    const V t = s + v;
    const V bp = t - s;
    const V e = (s - (t - bp)) + (v - bp);
    const V c2 = c + e;
    s = t + c2;
    c = c2 - (s - t);
}

// A partial sum: hi + lo in double-word arithmetic, and a plain sum that
// carries inf and NaN (for which the compensation is meaningless).
struct double_word {
    double hi = 0, lo = 0, plain = 0;
    void add(const double_word& o) noexcept {
        plain += o.plain;
        two_sum_renormalised(hi, lo, o.hi);
        two_sum_renormalised(hi, lo, o.lo);
    }
    template <class T>
    [[nodiscard]] T rounded() const noexcept {
        return static_cast<T>(std::isfinite(plain) ? hi + lo : plain);
    }
};

// Exact-as-practical accumulation in `lanes<T>` virtual lanes (see the file
// comment). Each lane is a double-word sum (hi, lo) in double, renormalised
// after every addition, so lo never grows: the error of a lane is about
// 2^-106 n sum|l_i| plus one rounding. float values are widened to double
// first. A plain running sum rides along to carry inf and NaN, for which
// the compensation is meaningless.
template <class B>
class lane_accumulator {
public:
    using T = typename B::value_type;
    using A = typename B::arch_type;
    using D = xsimd::batch<double, A>;
    static constexpr std::size_t width = B::size;
    static constexpr std::size_t dwidth = D::size;
    static constexpr std::size_t count = lanes<T>::value / dwidth;  // double batches
    static_assert(lanes<T>::value % width == 0, "virtual lane count must be a multiple of the batch width");

    // Adds batch v, which holds elements [i, i + width) with i % width == 0.
    LOGITLOSS_INLINE void add(std::size_t i, const B& v) noexcept {
        if constexpr (std::is_same<T, double>::value) {
            add_lane((i / dwidth) % count, v);
        } else {
            const std::size_t k = (i / dwidth) % count;  // lane of the low half; the high half is next
#if defined(__AVX512F__)
            if constexpr (std::is_base_of<xsimd::avx512f, A>::value) {
                // Zero-masked forms: GCC 12 warns (-Wmaybe-uninitialized) on
                // the undefined pass-through of the unmasked intrinsics.
                const __m512 f = v;
                const __m256 lo = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(f), 0));
                const __m256 hi = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(f), 1));
                add_lane(k, D(_mm512_maskz_cvtps_pd(0xFF, lo)));
                add_lane(k + 1, D(_mm512_maskz_cvtps_pd(0xFF, hi)));
                return;
            }
#endif
#if defined(__AVX__)
            if constexpr (std::is_base_of<xsimd::avx, A>::value) {
                const __m256 f = v;
                add_lane(k, D(_mm256_cvtps_pd(_mm256_castps256_ps128(f))));
                add_lane(k + 1, D(_mm256_cvtps_pd(_mm256_extractf128_ps(f, 1))));
                return;
            }
#endif
#if defined(__SSE2__)
            if constexpr (std::is_base_of<xsimd::sse2, A>::value) {
                const __m128 f = v;
                add_lane(k, D(_mm_cvtps_pd(f)));
                add_lane(k + 1, D(_mm_cvtps_pd(_mm_movehl_ps(f, f))));
                return;
            }
#endif
            alignas(64) float buf[width];
            v.store_aligned(buf);
            for (std::size_t h = 0; h < width / dwidth; ++h)
                add_lane(((i + h * dwidth) / dwidth) % count, D::load_aligned(buf + h * dwidth));
        }
    }

    // Merges the lanes in lane order, in double-word arithmetic.
    [[nodiscard]] double_word partial() const noexcept {
        constexpr std::size_t n = lanes<T>::value;
        alignas(64) double hi[n], lo[n], raw[n];
        for (std::size_t k = 0; k < count; ++k) {
            hi_[k].store_aligned(hi + k * dwidth);
            lo_[k].store_aligned(lo + k * dwidth);
            raw_[k].store_aligned(raw + k * dwidth);
        }
        double_word r;
        for (std::size_t j = 0; j < n; ++j) r.add(double_word{hi[j], lo[j], raw[j]});
        return r;
    }

    // The lanes' sum rounded once to T.
    [[nodiscard]] T total() const noexcept { return partial().template rounded<T>(); }

private:
    LOGITLOSS_INLINE void add_lane(std::size_t k, const D& v) noexcept {
        raw_[k] += v;
        two_sum_renormalised(hi_[k], lo_[k], v);
    }

    D hi_[count] = {};
    D lo_[count] = {};
    D raw_[count] = {};
};

// Loads W elements starting at i of an array that is n long, padding with
// `fill` past the end.
template <class B>
LOGITLOSS_INLINE B load_padded(const typename B::value_type* p, std::size_t i, std::size_t n,
                               typename B::value_type fill) noexcept {
    if (i + B::size <= n) return B::load_unaligned(p + i);
    alignas(64) typename B::value_type buf[B::size];
    for (std::size_t j = 0; j < B::size; ++j) buf[j] = i + j < n ? p[i + j] : fill;
    return B::load_aligned(buf);
}

template <class B>
LOGITLOSS_INLINE void store_partial(typename B::value_type* p, std::size_t i, std::size_t n, const B& v) noexcept {
    if (i + B::size <= n) {
        v.store_unaligned(p + i);
        return;
    }
    alignas(64) typename B::value_type buf[B::size];
    v.store_aligned(buf);
    for (std::size_t j = 0; i + j < n; ++j) p[i + j] = buf[j];
}

// pos_weight for elements [i, i+W): one value, or pos_weight[(i+j) % C].
template <class B>
LOGITLOSS_INLINE B load_pos_weight(span<const typename B::value_type> pw, std::size_t i) noexcept {
    using T = typename B::value_type;
    const std::size_t classes = pw.size();
    if (classes == 0) return B(T(1));
    if (classes == 1) return B(pw.data()[0]);
    const std::size_t c = i % classes;
    if (c + B::size <= classes) return B::load_unaligned(pw.data() + c);
    alignas(64) T buf[B::size];
    for (std::size_t j = 0; j < B::size; ++j) buf[j] = pw.data()[(c + j) % classes];
    return B::load_aligned(buf);
}

// Elements are reduced in blocks of block_size (a multiple of every batch
// width and of the 16 virtual lanes); each block's lanes are merged to a
// double-word partial sum, and the partial sums are merged in block order.
// Threads take contiguous runs of blocks, so the result has the same bits
// for every thread count and every SIMD width.
constexpr std::size_t block_size = std::size_t(1) << 14;

// Number of threads worth starting for n elements (each gets at least
// min_block_run blocks).
inline std::size_t useful_threads(std::size_t requested, std::size_t n) noexcept {
    constexpr std::size_t min_block_run = 4;
    const std::size_t most = (n + block_size - 1) / block_size / min_block_run;
    if (most <= 1 || requested == 1) return 1;  // before asking the OS for the core count
    if (requested == 0) requested = std::max(1u, std::thread::hardware_concurrency());
    return std::max<std::size_t>(1, std::min(requested, most));
}

// Runs body(first_block, last_block) over [0, blocks) on `threads` > 1
// threads (the caller's included), contiguous runs in order. If a thread
// cannot be started, the caller's thread does its share: the results are
// the same.
template <class Body>
void for_block_runs(std::size_t blocks, std::size_t threads, Body body) {
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    const std::size_t per = blocks / threads, extra = blocks % threads;
    std::size_t begin = 0;
    std::vector<std::pair<std::size_t, std::size_t>> own;
    for (std::size_t t = 0; t < threads; ++t) {
        const std::size_t end = begin + per + (t < extra ? 1 : 0);
        if (t + 1 == threads) {
            own.emplace_back(begin, end);
        } else {
            try {
                pool.emplace_back(body, begin, end);
            } catch (const std::system_error&) {
                own.emplace_back(begin, end);
            }
        }
        begin = end;
    }
    for (const auto& r : own) body(r.first, r.second);
    for (auto& th : pool) th.join();
}

// The one loop behind every loss kernel. `f(x, y, pos_weight)` returns a
// value_and_grad of batches; WantGrad selects whether the gradient is stored.
template <class Arch, bool WantGrad, class T, class F>
T run_loss(const char* fn, inputs kind, const T* x, const T* y, std::size_t n, T* grad, const options<T>& o, F f) {
    using B = xsimd::batch<T, Arch>;
    static_assert(block_size % lanes<T>::value == 0 && block_size % B::size == 0, "blocks must hold whole lanes");
    validate<B>(fn, kind, x, y, n, grad, WantGrad, o);
    constexpr std::size_t W = B::size;
    const T* w = o.weight.data();
    T* losses = o.losses.data();
    const bool none = o.reduce == reduction::none;
    const bool mean = o.reduce == reduction::mean;
    const T divisor = mean && n > 0 ? static_cast<T>(n) : T(1);
    // Padding: x = 0, y = 0 gives a finite loss, which the mask then zeroes.
    const T pad_x = kind == inputs::probabilities ? T(0.5) : T(0);

    // Elements [begin, end) of one block, into its partial sum.
    auto block = [&](std::size_t begin, std::size_t end) noexcept -> double_word {
        const B grad_divisor(divisor);
        alignas(64) T lane_index[W];
        for (std::size_t j = 0; j < W; ++j) lane_index[j] = static_cast<T>(j);
        const B lane = B::load_aligned(lane_index);
        lane_accumulator<B> acc;
        for (std::size_t i = begin; i < end; i += W) {
            const bool tail = i + W > end;
            const B xb = load_padded<B>(x, i, end, pad_x);
            const B yb = load_padded<B>(y, i, end, T(0));
            auto r = f(xb, yb, load_pos_weight<B>(o.pos_weight, i));
            if (w != nullptr) {
                const B wb = load_padded<B>(w, i, end, T(0));
                r.value = r.value * wb;
                r.grad = r.grad * wb;
            }
            if (none) {
                store_partial(losses, i, end, r.value);
            } else {
                const B v = tail ? xsimd::select(lane < B(static_cast<T>(end - i)), r.value, B(T(0))) : r.value;
                acc.add(i, v);
            }
            if constexpr (WantGrad) store_partial(grad, i, end, mean ? B(r.grad / grad_divisor) : r.grad);
        }
        return none ? double_word{} : acc.partial();
    };

    const std::size_t blocks = (n + block_size - 1) / block_size;
    const std::size_t threads = useful_threads(o.threads, n);
    double_word total;
    if (threads <= 1) {
        for (std::size_t b = 0; b < blocks; ++b) total.add(block(b * block_size, std::min(n, (b + 1) * block_size)));
    } else {
        std::vector<double_word> partial(blocks);
        for_block_runs(blocks, threads, [&](std::size_t first, std::size_t last) {
            for (std::size_t b = first; b < last; ++b)
                partial[b] = block(b * block_size, std::min(n, (b + 1) * block_size));
        });
        for (const auto& p : partial) total.add(p);
    }
    if (none) return T(0);
    const T sum = total.rounded<T>();
    return mean ? (n > 0 ? sum / static_cast<T>(n) : std::numeric_limits<T>::quiet_NaN()) : sum;
}

struct bce_with_logits_fn {
    template <class B>
    LOGITLOSS_INLINE value_and_grad<B> operator()(const B& x, const B& y, const B& pw) const noexcept {
        return bce_with_logits_value_and_grad(x, y, pw);
    }
};
struct bce_with_logits_value_fn {
    template <class B>
    LOGITLOSS_INLINE value_and_grad<B> operator()(const B& x, const B& y, const B& pw) const noexcept {
        return {bce_with_logits(x, y, pw), B(0)};
    }
};
struct bce_fn {
    template <class B>
    LOGITLOSS_INLINE value_and_grad<B> operator()(const B& p, const B& y, const B&) const noexcept {
        return bce_value_and_grad(p, y);
    }
};
struct bce_value_fn {
    template <class B>
    LOGITLOSS_INLINE value_and_grad<B> operator()(const B& p, const B& y, const B&) const noexcept {
        return {bce(p, y), B(0)};
    }
};

}  // namespace detail

// Reduced BCE-with-logits loss of n logits against n targets in [0,1].
// Returns the mean or sum (0 with reduction::none, whose losses go to
// options.losses). Throws logitloss::error on bad input.
template <class Arch = xsimd::default_arch, class T>
[[nodiscard]] T bce_with_logits_forward(const T* logits, const T* targets, std::size_t n, const options<T>& opt = {}) {
    return detail::run_loss<Arch, false>("bce_with_logits_forward", detail::inputs::logits, logits, targets, n,
                                         static_cast<T*>(nullptr), opt, detail::bce_with_logits_value_fn{});
}

// As bce_with_logits_forward, and writes d(loss)/d(logits) to grad_logits
// (n elements) in the same pass: weight*(sigmoid(x) - y), divided by n for
// the mean, per element for none.
template <class Arch = xsimd::default_arch, class T>
T bce_with_logits_forward_backward(const T* logits, const T* targets, std::size_t n, T* grad_logits,
                                   const options<T>& opt = {}) {
    return detail::run_loss<Arch, true>("bce_with_logits_forward_backward", detail::inputs::logits, logits, targets,
                                        n, grad_logits, opt, detail::bce_with_logits_fn{});
}

// PyTorch BCELoss on n probabilities in [0,1] (checked unless opt.check is
// false, in which case out-of-range p gives NaN).
template <class Arch = xsimd::default_arch, class T>
[[nodiscard]] T bce_forward(const T* probabilities, const T* targets, std::size_t n, const options<T>& opt = {}) {
    return detail::run_loss<Arch, false>("bce_forward", detail::inputs::probabilities, probabilities, targets, n,
                                         static_cast<T*>(nullptr), opt, detail::bce_value_fn{});
}

// As bce_forward, and writes d(loss)/d(probabilities) (ATen's backward,
// epsilon included) to grad_probabilities.
template <class Arch = xsimd::default_arch, class T>
T bce_forward_backward(const T* probabilities, const T* targets, std::size_t n, T* grad_probabilities,
                       const options<T>& opt = {}) {
    return detail::run_loss<Arch, true>("bce_forward_backward", detail::inputs::probabilities, probabilities, targets,
                                        n, grad_probabilities, opt, detail::bce_fn{});
}

namespace detail {

// out[i] = f(x[i]) through the SIMD body and the padded tail.
template <class Arch, class T, class F>
void map(const char* fn, const T* x, std::size_t n, T* out, F f) {
    if (n > 0 && (x == nullptr || out == nullptr))
        fail(error_kind::null_pointer, 0, fn, "input or output pointer is null with n > 0");
    using B = xsimd::batch<T, Arch>;
    for (std::size_t i = 0; i < n; i += B::size) store_partial(out, i, n, f(load_padded<B>(x, i, n, T(0))));
}

}  // namespace detail

// out[i] = sigmoid(x[i]) for n elements (out may alias x).
template <class Arch = xsimd::default_arch, class T>
void sigmoid(const T* x, std::size_t n, T* out) {
    detail::map<Arch>("sigmoid", x, n, out, [](const auto& v) { return sigmoid(v); });
}

// out[i] = softplus(x[i]) for n elements (out may alias x).
template <class Arch = xsimd::default_arch, class T>
void softplus(const T* x, std::size_t n, T* out) {
    detail::map<Arch>("softplus", x, n, out, [](const auto& v) { return softplus(v); });
}

// out[i] = log_sigmoid(x[i]) for n elements (out may alias x).
template <class Arch = xsimd::default_arch, class T>
void log_sigmoid(const T* x, std::size_t n, T* out) {
    detail::map<Arch>("log_sigmoid", x, n, out, [](const auto& v) { return log_sigmoid(v); });
}

}  // namespace logitloss
