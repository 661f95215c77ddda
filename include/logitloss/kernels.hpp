// logitloss/kernels.hpp — array kernels over contiguous data: a SIMD body
// built from the element-wise formulas, an exact tail, reductions, weights and
// input checks. Needs xsimd (8.1).
//
//   bce_with_logits_forward(logits, targets, n, options)            -> loss
//   bce_with_logits_forward_backward(logits, targets, n, grad, opt)  -> loss, grad
//   bce_forward / bce_forward_backward                (probabilities, ATen BCELoss)
//   sigmoid / softplus / log_sigmoid (x, n, out)
//   sigmoid_backward(x, grad_out, n, grad_in)          (sigmoid's backward)
//
// Exact tail: the last n % W elements are copied into a padded batch and go
// through the same SIMD code as the body, so an element's value never depends
// on its position.
//
// Accumulator: sum and mean use 16 (float) or 8 (double) virtual lanes of
// double (float losses on logits are computed in double and never rounded
// to float before they are summed; a float bce on probabilities is the
// float formula's value, weighted and summed in double). Each lane is a
// two-sum pair: the plain running sum and the running sum of its exact
// rounding errors (Ogita, Rump and Oishi's Sum2): the pair holds the sum
// to about k^2 2^-106 sum|l_i| for k terms, and is rounded once to T
// (detail::rounded_sum). Element i always goes to lane i mod 16 (or 8); the
// lanes of each block of 16,384 elements are merged in a fixed order and
// the blocks' partial sums in block order, so the result depends neither on
// the SIMD width nor on the thread count.
// The sum is correctly rounded to T in practice (within 1 ulp), against
// n u sum|l_i| (u = 2^-24) for a naive float loop.
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
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "detail/checks.hpp"
#include "detail/kernel_abi.hpp"
#include "detail/ops_xsimd.hpp"
#include "formulas.hpp"

// The vocabulary of the interface (reduction, span, options, error_kind,
// error) is declared outside the LOGITLOSS_ABI_TAG namespace (see
// detail/config.hpp): translation units built with different tags, or
// with and without one, share these types, so an error thrown under one tag
// is caught as logitloss::error under another, and options pass between
// them. Their member functions only copy and compare integers and pointers
// (error's message, and the one span throws for a strided Eigen block, are
// std::invalid_argument's), so no instruction set shows in them.
namespace logitloss {

// How the per-element losses are combined. PyTorch semantics: mean divides
// the (weighted) sum by the number of elements, not by the sum of weights.
enum class reduction { none, sum, mean };

namespace span_detail {
// Eigen dense objects with direct access, told by their compile-time
// traits (no Eigen header is needed here).
template <class C, class = void>
struct eigen_traits : std::false_type {};
template <class C>
struct eigen_traits<C, std::enable_if_t<sizeof(C::IsRowMajor) != 0 && sizeof(C::RowsAtCompileTime) != 0 &&
                                        sizeof(C::ColsAtCompileTime) != 0 && sizeof(C::InnerStrideAtCompileTime) != 0>>
    : std::true_type {
    static constexpr bool vector = C::RowsAtCompileTime == 1 || C::ColsAtCompileTime == 1;
    // Elements in another order than row by row, or not next to each
    // other: a column-major matrix or array that can have more than one row
    // and column, and anything whose inner stride is not 1 (a row of a
    // column-major matrix, a column of a row-major one, a strided map).
    static constexpr bool refused = C::InnerStrideAtCompileTime != 1 || (!C::IsRowMajor && !vector);
};

// Whether the Eigen object d (with direct access) holds its elements row
// by row, each next to the last: the kernels' layout. eigen.hpp asks the
// same of its operands.
template <class D>
bool row_major_contiguous(const D& d) {
    const auto row_step = D::IsRowMajor ? d.outerStride() : d.innerStride();
    const auto col_step = D::IsRowMajor ? d.innerStride() : d.outerStride();
    return (d.cols() <= 1 || col_step == 1) && (d.rows() <= 1 || row_step == d.cols());
}

template <class C>
constexpr bool refused() {
    using D = std::remove_cv_t<C>;
    if constexpr (eigen_traits<D>::value) {
        return eigen_traits<D>::refused;
    } else {
        return false;
    }
}

// What the compile-time traits cannot see: a row-major block, map or Ref
// whose rows do not follow each other in memory.
template <class C>
constexpr void check_rows(const C& c) {
    if constexpr (eigen_traits<std::remove_cv_t<C>>::value) {
        if (!row_major_contiguous(c))
            throw std::invalid_argument(
                "logitloss::span: the rows of this matrix are not next to each other in memory (a block or a "
                "strided map): copy it into a row-major matrix, or pass a pointer and a size");
    }
}
}  // namespace span_detail

// A pointer and a length; converts from any contiguous container with
// data() and size() (std::vector, std::array, Eigen vectors and row-major
// plain objects), in the order the kernels read weights and losses: row by
// row. Not from an Eigen object whose data() is in another order or has
// gaps, which would be a silent misreading: a column-major matrix or array
// (column by column), or one with an inner stride (a row of a column-major
// matrix); those do not compile. A row-major block or strided map whose
// rows are not next to each other throws std::invalid_argument. Pass data()
// and size() explicitly where the order is known to match.
template <class T>
class span {
public:
    constexpr span() noexcept = default;
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <class C, class = decltype(std::declval<C&>().data()), class = decltype(std::declval<C&>().size()),
              class = std::enable_if_t<std::is_convertible<decltype(std::declval<C&>().data()), T*>::value &&
                                       !span_detail::refused<C>()>>
    constexpr span(C& c) : data_(c.data()), size_(static_cast<std::size_t>(c.size())) {
        span_detail::check_rows(c);
    }
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
    // Per-element rescaling weight (PyTorch `weight`): empty, or n finite
    // elements >= 0.
    span<const T> weight{};
    // PyTorch `pos_weight` (bce_with_logits only): empty; one value for all
    // elements; or C values, one per class, for n = rows * C elements stored
    // row by row (element i uses pos_weight[i % C]). Values must be finite
    // and >= 0. A span with a pointer but no elements is an error, whatever
    // n (a weight of zero elements is one of the right size when n is 0).
    span<const T> pos_weight{};
    // reduction::none: receives the n per-element losses (required then);
    // with sum or mean, a span with a pointer or elements is an error (a
    // buffer meant for the losses that would stay unwritten), as in cuda.cuh.
    span<T> losses{};
    // Threads to use: 1 (the default) runs on the caller's thread only; 0
    // uses std::thread::hardware_concurrency(). Threads are started per call
    // (no pool is kept) and only for arrays long enough to be worth it; the
    // results are the same bits for every thread count.
    std::size_t threads = 1;
    // Value checks, in one pass before anything is written: targets in [0,1]
    // and not NaN, probabilities in [0,1] (bce), weights and pos_weight
    // finite and >= 0 (an infinite weight makes inf * 0 = NaN of a zero term).
    // Size and null-pointer checks are always made.
    bool check = true;
};

// What was wrong with the input of an array kernel.
enum class error_kind {
    null_pointer,
    size_mismatch,
    missing_output,
    target_out_of_range,
    probability_out_of_range,
    negative_weight,      // a weight < 0, NaN or infinite
    negative_pos_weight,  // a pos_weight < 0, NaN or infinite
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

}  // namespace logitloss

LOGITLOSS_NAMESPACE_BEGIN

namespace detail {

template <class T>
struct lanes {
    static constexpr std::size_t value = 64 / sizeof(T);  // one AVX-512 register: 16 floats, 8 doubles
};

[[noreturn]] inline void fail(error_kind kind, std::size_t index, const char* function, const std::string& detail) {
    throw error(kind, index, std::string("logitloss::") + function + ": " + detail);
}

enum class inputs { logits, probabilities };

// Whether every p[i] passes valid_unit (unit) or valid_weight (not unit):
// in [0, 1] or in [0, max()], the vector form of the same comparisons.
template <class Arch, class T>
bool all_in_range(const T* p, std::size_t n, bool unit) noexcept {
    using B = xsimd::batch<T, Arch>;
    const B zero(T(0)), top(unit ? T(1) : std::numeric_limits<T>::max());
    std::size_t i = 0;
    for (; i + B::size <= n; i += B::size) {
        const B v = B::load_unaligned(p + i);
        if (!xsimd::all((v >= zero) & (v <= top))) return false;
    }
    for (; i < n; ++i)
        if (!(unit ? valid_unit(p[i]) : valid_weight(p[i]))) return false;
    return true;
}

// Structural and value checks; throws on the first problem. pos_weight is
// checked first (its index is a class index); then the element scan reports
// the lowest bad element index, and at that index the first failing check in
// the order: input (probabilities), target, weight. in_range: the vector
// pass, an all_in_range.
template <class T, class InRange>
void validate(const char* fn, inputs kind, const T* x, const T* y, std::size_t n, const T* grad, bool want_grad,
              const options<T>& o, InRange in_range) {
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
    if (classes == 0 && o.pos_weight.data() != nullptr)
        fail(error_kind::size_mismatch, 0, fn, "pos_weight has a pointer but no elements");
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
    } else if (o.losses.size() != 0 || o.losses.data() != nullptr) {  // given, as weight's rule: even empty
        fail(error_kind::size_mismatch, o.losses.size(), fn, "options.losses is only written with reduction::none");
    }
    if (!o.check) return;
    const T* w = o.weight.data();
    const T* pw = o.pos_weight.data();
    // A vector pass first; the element scan below only runs to name the
    // first bad index once something is known to be wrong.
    if (in_range(y, n, true) && (kind != inputs::probabilities || in_range(x, n, true)) &&
        (w == nullptr || in_range(w, n, false)) && in_range(pw, classes, false))
        return;
    for (std::size_t c = 0; c < classes; ++c) {
        if (!valid_weight(pw[c]))
            fail(error_kind::negative_pos_weight, c, fn,
                 "pos_weight at index " + std::to_string(c) + " is " + describe(pw[c]) + ", must be finite and >= 0");
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (kind == inputs::probabilities && !valid_unit(x[i]))
            fail(error_kind::probability_out_of_range, i, fn,
                 "probability at index " + std::to_string(i) + " is " + describe(x[i]) + ", must be in [0, 1]");
        if (!valid_unit(y[i]))
            fail(error_kind::target_out_of_range, i, fn,
                 "target at index " + std::to_string(i) + " is " + describe(y[i]) + ", must be in [0, 1]");
        if (w != nullptr && !valid_weight(w[i]))
            fail(error_kind::negative_weight, i, fn,
                 "weight at index " + std::to_string(i) + " is " + describe(w[i]) + ", must be finite and >= 0");
    }
}

// Calls f(std::integral_constant<std::size_t, I>{}) for I = 0 .. N-1.
template <class F, std::size_t... I>
LOGITLOSS_INLINE void static_for_impl(F&& f, std::index_sequence<I...>) {
    (f(std::integral_constant<std::size_t, I>{}), ...);
}
template <std::size_t N, class F>
LOGITLOSS_INLINE void static_for(F&& f) {
    static_for_impl(f, std::make_index_sequence<N>{});
}

// A batch B as the double batches the kernels compute and accumulate in:
// a float batch is its two widened halves (the float logit functions are
// evaluated in double, see logistic_wide.hpp); a double batch is itself.
template <class B>
struct parts_of {
    using D = B;
    static constexpr std::size_t count = 1;
    template <std::size_t H>
    static LOGITLOSS_INLINE D part(const B& v) noexcept {
        return v;
    }
    static LOGITLOSS_INLINE B join(const D (&p)[1]) noexcept { return p[0]; }
};
template <class A>
struct parts_of<xsimd::batch<float, A>> {
    using W = in_double<xsimd::batch<float, A>>;
    using D = typename W::D;
    static constexpr std::size_t count = 2;
    template <std::size_t H>
    static LOGITLOSS_INLINE D part(const xsimd::batch<float, A>& v) noexcept {
        return W::template half<int(H)>(v);
    }
    static LOGITLOSS_INLINE xsimd::batch<float, A> join(const D (&p)[2]) noexcept { return W::join(p[0], p[1]); }
};

// Partial sums (kernel_abi.hpp): a += b in double-word arithmetic, and the
// sum rounded once to T.
using kernel_abi::double_word;
LOGITLOSS_INLINE void add_to(double_word& a, const double_word& b) noexcept {
    two_sum_add(a.hi, a.lo, b.hi);
    a.lo += b.lo;
}
template <class T>
LOGITLOSS_INLINE T rounded(const double_word& a) noexcept {
    return rounded_sum<T>(a.hi, a.lo);
}

// Accumulation in `lanes<T>` virtual lanes of double (see the file
// comment): element i goes to lane i mod lanes<T>, as count double batches
// of D::size lanes each; lane sums are two-sum pairs (s, c).
template <class B>
class lane_accumulator {
public:
    using T = typename B::value_type;
    using P = parts_of<B>;
    using D = typename P::D;
    static constexpr std::size_t count = lanes<T>::value / D::size;
    static_assert(lanes<T>::value % B::size == 0, "virtual lane count must be a multiple of the batch width");

    // Batches of B per group of lanes<T> elements.
    static constexpr std::size_t batches = lanes<T>::value / B::size;

    // Adds part H of batch J of a group (elements [J W + H D::size, ...)
    // of it): lane batch J * parts + H.
    template <std::size_t J, std::size_t H>
    LOGITLOSS_INLINE void add_part(const D& v) noexcept {
        constexpr std::size_t k = J * P::count + H;
        static_assert(k < count, "part outside the group");
        two_sum_add(s_[k], c_[k], v);
    }

    // Adds batch v, which holds elements [i, i + B::size), i % B::size == 0.
    void add(std::size_t i, const B& v) noexcept {
        const std::size_t j = (i / B::size) % batches;
        static_for<batches>([&](auto jj) {
            if (jj == j) static_for<P::count>([&](auto h) { add_part<jj, h>(P::template part<h>(v)); });
        });
    }

    // Merges the lanes in lane order, in double-word arithmetic.
    [[nodiscard]] double_word partial() const noexcept {
        constexpr std::size_t n = lanes<T>::value;
        alignas(64) double s[n], c[n];
        for (std::size_t k = 0; k < count; ++k) {
            s_[k].store_aligned(s + k * D::size);
            c_[k].store_aligned(c + k * D::size);
        }
        double_word r{0.0, 0.0};
        for (std::size_t j = 0; j < n; ++j) add_to(r, double_word{s[j], c[j]});
        return r;
    }

    // The lanes' sum rounded once to T.
    [[nodiscard]] T total() const noexcept { return rounded<T>(partial()); }

private:
    D s_[count] = {};
    D c_[count] = {};
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
// threads (the caller's included), contiguous runs in order; body must not
// throw. If a thread cannot be started (std::system_error, or bad_alloc for
// its state), the caller's thread does its share: the results are the same.
// Memory for the bookkeeping is taken before any thread starts, so nothing
// can throw while threads run.
template <class Body>
void for_block_runs(std::size_t blocks, std::size_t threads, Body body) {
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    std::vector<std::pair<std::size_t, std::size_t>> own;
    own.reserve(threads);
    const std::size_t per = blocks / threads, extra = blocks % threads;
    std::size_t begin = 0;
    for (std::size_t t = 0; t < threads; ++t) {
        const std::size_t end = begin + per + (t < extra ? 1 : 0);
        if (t + 1 == threads) {
            own.emplace_back(begin, end);
        } else {
            try {
                pool.emplace_back(body, begin, end);
            } catch (...) {
                own.emplace_back(begin, end);  // reserved: cannot throw
            }
        }
        begin = end;
    }
    for (const auto& r : own) body(r.first, r.second);
    for (auto& th : pool) th.join();
}

// The one loop behind every loss kernel: elements [begin, end) of one block
// (end - begin <= block_size), into the block's partial sum. F maps batches
// x, y, pos_weight to the losses and gradients as parts_of<B> double
// batches; WantGrad selects whether the gradient is stored.
//
// Elements go in groups of lanes<T> (one group = one set of accumulator
// lanes, so every lane index is a compile-time constant); whole groups are
// loaded directly, the last partial group through padded copies. Weights,
// the mean's 1/n and the accumulation are applied in double, so a float
// loss or gradient on logits is rounded once (on probabilities, the float
// formula's value is widened, then weighted).
template <class Arch, bool WantGrad, class T, class F>
double_word loss_block(const kernel_abi::loss_params<T>& p, std::size_t begin, std::size_t end) noexcept {
    using B = xsimd::batch<T, Arch>;
    using P = parts_of<B>;
    using D = typename P::D;
    constexpr std::size_t W = B::size;
    constexpr std::size_t G = lanes<T>::value;  // elements per group
    static_assert(block_size % G == 0 && G % W == 0, "blocks must hold whole groups");
    // Every parameter in a local: the vector stores below may alias any
    // memory, p included, and would make the compiler reload its fields.
    const T* const x = p.x;
    const T* const y = p.y;
    const T* const w = p.weight;
    T* const grad = p.grad;
    T* const losses = p.losses;
    const span<const T> pos_weight(p.pos_weight, p.classes);
    const bool none = p.none;
    const bool mean = p.mean;
    const double inv_n = p.inv_n;
    const T divisor = p.divisor;
    const T pad_x = p.pad_x;

    // Batch j of the group starting at i; Tail: the group ends at `end`.
    auto step = [&](auto j, std::size_t i, lane_accumulator<B>& acc, auto tail) {
        constexpr bool Tail = decltype(tail)::value;
        const std::size_t at = i + decltype(j)::value * W;
        B xb, yb, wb(T(0));
        if constexpr (Tail) {
            xb = load_padded<B>(x, at, end, pad_x);
            yb = load_padded<B>(y, at, end, T(0));
            if (w != nullptr) wb = load_padded<B>(w, at, end, T(0));
        } else {
            xb = B::load_unaligned(x + at);
            yb = B::load_unaligned(y + at);
            if (w != nullptr) wb = B::load_unaligned(w + at);
        }
        value_and_grad<D> r[P::count];
        F{}(xb, yb, load_pos_weight<B>(pos_weight, at), r);
        D values[P::count], grads[P::count];
        static_for<P::count>([&](auto h) {
            D v = r[h].value, g = r[h].grad;
            if (w != nullptr) {
                const D wd = P::template part<h>(wb);
                v = v * wd;
                g = g * wd;
            }
            if constexpr (Tail) {
                // Lanes past the end hold the padding's finite loss: zeroed.
                alignas(64) double index[D::size];
                for (std::size_t l = 0; l < D::size; ++l) index[l] = static_cast<double>(h * D::size + l);
                v = xsimd::select(D::load_aligned(index) < D(static_cast<double>(end - at)), v, D(0.0));
            }
            if (mean) {
                if constexpr (std::is_same<T, float>::value) {
                    g = g * D(inv_n);
                } else {
                    g = g / D(divisor);
                }
            }
            values[h] = v;
            grads[h] = g;
            if (!none) acc.template add_part<decltype(j)::value, h>(v);
        });
        if constexpr (Tail) {
            if (none) store_partial(losses, at, end, P::join(values));
            if constexpr (WantGrad) store_partial(grad, at, end, P::join(grads));
        } else {
            if (none) P::join(values).store_unaligned(losses + at);
            if constexpr (WantGrad) P::join(grads).store_unaligned(grad + at);
        }
    };

    lane_accumulator<B> acc;
    std::size_t i = begin;
    for (; i + G <= end; i += G) static_for<G / W>([&](auto j) { step(j, i, acc, std::false_type{}); });
    if (i < end)
        static_for<G / W>([&](auto j) {
            if (i + decltype(j)::value * W < end) step(j, i, acc, std::true_type{});
        });
    return none ? double_word{0.0, 0.0} : acc.partial();
}

// Everything around the loop: validation, the parameters, the blocks (on
// threads when asked), their partial sums merged in block order, and the
// reduction. block(params, begin, end) runs one block and in_range is the
// checks' vector pass: loss_block and all_in_range of some arch, called
// directly or through the dispatch table.
template <bool WantGrad, class T, class Block, class InRange>
T run_loss_with(const char* fn, inputs kind, const T* x, const T* y, std::size_t n, T* grad, const options<T>& o,
                Block block, InRange in_range) {
    validate(fn, kind, x, y, n, grad, WantGrad, o, in_range);
    const bool none = o.reduce == reduction::none;
    const bool mean = o.reduce == reduction::mean;
    kernel_abi::loss_params<T> p{};
    p.x = x;
    p.y = y;
    p.weight = o.weight.data();
    p.pos_weight = o.pos_weight.data();
    p.classes = o.pos_weight.size();
    p.grad = WantGrad ? grad : nullptr;
    p.losses = o.losses.data();
    p.none = none;
    p.mean = mean;
    // The mean's gradient: times 1/n in double for float (rounded once to
    // float, within 1 ulp of the exact g/n); divided by n for double.
    p.inv_n = mean && n > 0 ? 1.0 / static_cast<double>(n) : 1.0;
    p.divisor = mean && n > 0 ? static_cast<T>(n) : T(1);
    // Padding: x = 0 (p = 1/2), y = 0 gives a finite loss, which is zeroed.
    p.pad_x = kind == inputs::probabilities ? T(0.5) : T(0);

    const std::size_t blocks = (n + block_size - 1) / block_size;
    const std::size_t threads = useful_threads(o.threads, n);
    auto run = [&](std::size_t b) { return block(p, b * block_size, std::min(n, (b + 1) * block_size)); };
    double_word total{0.0, 0.0};
    if (threads <= 1) {
        for (std::size_t b = 0; b < blocks; ++b) add_to(total, run(b));
    } else {
        std::vector<double_word> partial(blocks);
        for_block_runs(blocks, threads, [&](std::size_t first, std::size_t last) {
            for (std::size_t b = first; b < last; ++b) partial[b] = run(b);
        });
        for (const auto& s : partial) add_to(total, s);
    }
    if (none) return T(0);
    const T sum = rounded<T>(total);
    return mean ? mean_of(sum, total.hi + total.lo, n) : sum;
}

// run_loss with the loop of Arch, called directly.
template <class Arch, bool WantGrad, class T, class F>
T run_loss(const char* fn, inputs kind, const T* x, const T* y, std::size_t n, T* grad, const options<T>& o, F) {
    return run_loss_with<WantGrad>(
        fn, kind, x, y, n, grad, o,
        [](const kernel_abi::loss_params<T>& p, std::size_t begin, std::size_t end) {
            return loss_block<Arch, WantGrad, T, F>(p, begin, end);
        },
        [](const T* p, std::size_t m, bool unit) { return all_in_range<Arch>(p, m, unit); });
}

// The element functions of the loss kernels, as parts_of<B>: float logits
// go through the double evaluation part by part; everything else is
// computed on B and split.
template <class B, class VG>
LOGITLOSS_INLINE void split_parts(const VG& vg, value_and_grad<typename parts_of<B>::D> (&out)[parts_of<B>::count]) {
    static_for<parts_of<B>::count>([&](auto h) {
        out[h] = {parts_of<B>::template part<h>(vg.value), parts_of<B>::template part<h>(vg.grad)};
    });
}

// Unit: no pos_weight (the float evaluation then skips its arithmetic).
template <bool Unit, bool Grad>
struct logits_fn {
    template <class B>
    LOGITLOSS_INLINE void operator()(const B& x, const B& y, const B& pw,
                                     value_and_grad<typename parts_of<B>::D> (&out)[parts_of<B>::count]) const noexcept {
        using P = parts_of<B>;
        if constexpr (is_float_v<B>) {
            static_for<P::count>([&](auto h) {
                const auto xh = P::template part<h>(x), yh = P::template part<h>(y), ph = P::template part<h>(pw);
                if constexpr (Grad) {
                    out[h] = wide_bce_with_logits_value_and_grad<Unit>{}(xh, yh, ph);
                } else {
                    out[h] = {wide_bce_with_logits<Unit>{}(xh, yh, ph), decltype(xh)(0)};
                }
            });
        } else if constexpr (Grad) {
            split_parts<B>(bce_with_logits_value_and_grad(x, y, pw), out);
        } else {
            split_parts<B>(value_and_grad<B>{bce_with_logits(x, y, pw), B(0)}, out);
        }
    }
};
template <bool Unit>
using bce_with_logits_fn = logits_fn<Unit, true>;
template <bool Unit>
using bce_with_logits_value_fn = logits_fn<Unit, false>;

template <bool Grad>
struct probabilities_fn {
    template <class B>
    LOGITLOSS_INLINE void operator()(const B& p, const B& y, const B&,
                                     value_and_grad<typename parts_of<B>::D> (&out)[parts_of<B>::count]) const noexcept {
        if constexpr (Grad) {
            split_parts<B>(bce_value_and_grad(p, y), out);
        } else {
            split_parts<B>(value_and_grad<B>{bce(p, y), B(0)}, out);
        }
    }
};
using bce_fn = probabilities_fn<true>;
using bce_value_fn = probabilities_fn<false>;

}  // namespace detail

// Reduced BCE-with-logits loss of n logits against n targets in [0,1].
// Returns the mean or sum (0 with reduction::none, whose losses go to
// options.losses: a forward call for those alone discards the result with
// a cast to void, as [[nodiscard]] asks). Throws logitloss::error on bad
// input.
template <class Arch = xsimd::default_arch, class T>
[[nodiscard]] T bce_with_logits_forward(const T* logits, const T* targets, std::size_t n, const options<T>& opt = {}) {
    if (opt.pos_weight.empty())
        return detail::run_loss<Arch, false>("bce_with_logits_forward", detail::inputs::logits, logits, targets, n,
                                             static_cast<T*>(nullptr), opt, detail::bce_with_logits_value_fn<true>{});
    return detail::run_loss<Arch, false>("bce_with_logits_forward", detail::inputs::logits, logits, targets, n,
                                         static_cast<T*>(nullptr), opt, detail::bce_with_logits_value_fn<false>{});
}

// As bce_with_logits_forward, and writes d(loss)/d(logits) to grad_logits
// (n elements) in the same pass: weight*(sigmoid(x) - y), divided by n for
// the mean, per element for none. For float the product and the division
// (as a product with 1/n) are done in double and rounded once.
template <class Arch = xsimd::default_arch, class T>
T bce_with_logits_forward_backward(const T* logits, const T* targets, std::size_t n, T* grad_logits,
                                   const options<T>& opt = {}) {
    if (opt.pos_weight.empty())
        return detail::run_loss<Arch, true>("bce_with_logits_forward_backward", detail::inputs::logits, logits,
                                            targets, n, grad_logits, opt, detail::bce_with_logits_fn<true>{});
    return detail::run_loss<Arch, true>("bce_with_logits_forward_backward", detail::inputs::logits, logits, targets,
                                        n, grad_logits, opt, detail::bce_with_logits_fn<false>{});
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

// out[i] = F(in[i]...) through the SIMD body and the padded tail (out may
// alias any input), and its two shapes in the kernel table (map_fn, map2_fn).
template <class Arch, class T, class F, class... In>
void map_each(std::size_t n, T* out, const In*... in) noexcept {
    using B = xsimd::batch<T, Arch>;
    std::size_t i = 0;
    for (; i + B::size <= n; i += B::size) F{}(B::load_unaligned(in + i)...).store_unaligned(out + i);
    if (i < n) store_partial(out, i, n, F{}(load_padded<B>(in, i, n, T(0))...));
}
template <class Arch, class T, class F>
void map_body(const T* x, std::size_t n, T* out) noexcept {
    map_each<Arch, T, F>(n, out, x);
}
template <class Arch, class T, class F>
void map2_body(const T* a, const T* b, std::size_t n, T* out) noexcept {
    map_each<Arch, T, F>(n, out, a, b);
}

inline void check_map(const char* fn, const void* x, std::size_t n, const void* out) {
    if (n > 0 && (x == nullptr || out == nullptr))
        fail(error_kind::null_pointer, 0, fn, "input or output pointer is null with n > 0");
}
inline void check_map2(const char* fn, const void* x, const void* grad_out, std::size_t n, const void* grad_in) {
    check_map(fn, x, n, grad_in);
    if (n > 0 && grad_out == nullptr) fail(error_kind::null_pointer, 0, fn, "grad_out pointer is null with n > 0");
}

struct sigmoid_op {
    template <class B>
    LOGITLOSS_INLINE B operator()(const B& v) const noexcept {
        return logitloss::sigmoid(v);
    }
};
struct sigmoid_backward_op {
    template <class B>
    LOGITLOSS_INLINE B operator()(const B& x, const B& grad_out) const noexcept {
        return logitloss::sigmoid_backward(x, grad_out);
    }
};
struct softplus_op {
    template <class B>
    LOGITLOSS_INLINE B operator()(const B& v) const noexcept {
        return logitloss::softplus(v);
    }
};
struct log_sigmoid_op {
    template <class B>
    LOGITLOSS_INLINE B operator()(const B& v) const noexcept {
        return logitloss::log_sigmoid(v);
    }
};

// Every kernel of Arch for T, as the dispatch library's table.
template <class Arch, class T>
constexpr kernel_abi::kernel_table<T> make_kernel_table() noexcept {
    kernel_abi::kernel_table<T> t{};
    t.loss[kernel_abi::logits_value] = &loss_block<Arch, false, T, bce_with_logits_value_fn<false>>;
    t.loss[kernel_abi::logits_value_unit] = &loss_block<Arch, false, T, bce_with_logits_value_fn<true>>;
    t.loss[kernel_abi::logits_value_and_grad] = &loss_block<Arch, true, T, bce_with_logits_fn<false>>;
    t.loss[kernel_abi::logits_value_and_grad_unit] = &loss_block<Arch, true, T, bce_with_logits_fn<true>>;
    t.loss[kernel_abi::probabilities_value] = &loss_block<Arch, false, T, bce_value_fn>;
    t.loss[kernel_abi::probabilities_value_and_grad] = &loss_block<Arch, true, T, bce_fn>;
    t.sigmoid = &map_body<Arch, T, sigmoid_op>;
    t.sigmoid_backward = &map2_body<Arch, T, sigmoid_backward_op>;
    t.softplus = &map_body<Arch, T, softplus_op>;
    t.log_sigmoid = &map_body<Arch, T, log_sigmoid_op>;
    t.in_range = &all_in_range<Arch, T>;
    return t;
}

}  // namespace detail

// out[i] = sigmoid(x[i]) for n elements (out may alias x).
template <class Arch = xsimd::default_arch, class T>
void sigmoid(const T* x, std::size_t n, T* out) {
    detail::check_map("sigmoid", x, n, out);
    detail::map_body<Arch, T, detail::sigmoid_op>(x, n, out);
}

// grad_in[i] = grad_out[i] * sigmoid'(x[i]) for n elements: sigmoid's
// backward from its saved input x (element-wise sigmoid_backward; grad_in
// may alias x or grad_out).
template <class Arch = xsimd::default_arch, class T>
void sigmoid_backward(const T* x, const T* grad_out, std::size_t n, T* grad_in) {
    detail::check_map2("sigmoid_backward", x, grad_out, n, grad_in);
    detail::map2_body<Arch, T, detail::sigmoid_backward_op>(x, grad_out, n, grad_in);
}

// out[i] = softplus(x[i]) for n elements (out may alias x).
template <class Arch = xsimd::default_arch, class T>
void softplus(const T* x, std::size_t n, T* out) {
    detail::check_map("softplus", x, n, out);
    detail::map_body<Arch, T, detail::softplus_op>(x, n, out);
}

// out[i] = log_sigmoid(x[i]) for n elements (out may alias x).
template <class Arch = xsimd::default_arch, class T>
void log_sigmoid(const T* x, std::size_t n, T* out) {
    detail::check_map("log_sigmoid", x, n, out);
    detail::map_body<Arch, T, detail::log_sigmoid_op>(x, n, out);
}

LOGITLOSS_NAMESPACE_END
