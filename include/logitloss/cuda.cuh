// logitloss/cuda.cuh — CUDA kernels built on formulas.hpp (needs nvcc; no
// xsimd). The element-wise arithmetic is the formulas' own source text
// instantiated for device code, so the GPU computes what the scalar and SIMD
// paths compute.
//
//   bce_with_logits_forward(logits, targets, n, opt, stream)              loss
//   bce_with_logits_forward_backward(logits, targets, n, grad, opt, s)    loss and gradient, one pass
//   bce_forward / bce_forward_backward      probabilities, ATen BCELoss semantics
//   sigmoid(x, n, out, s), sigmoid_backward(x, grad_out, n, grad_in, s)
//   scale(grad, n, factor, s)               grad *= a device scalar, skipped when it is 1
//   find_invalid / check_inputs             the value checks the loss kernels do not make
//
// Every pointer is a device pointer; every function is asynchronous on
// `stream` except check_inputs, which waits for its answer. Host functions
// throw logitloss::cuda::error for bad arguments and for a failed launch.
//
// Semantics are those of the CPU array kernels (kernels.hpp): PyTorch's
// weight and pos_weight (one value, or C per-class values where element i
// uses pos_weight[i % C]), mean = sum / n, and the mean's gradient is g / n.
// Per element, float logits are evaluated in double, and the weight and the
// mean's 1/n multiply that double value, so a float loss or gradient is
// rounded once, as on the CPU.
//
// Reduction and determinism. Each thread adds its elements' losses (in
// double) into a two-sum pair (plain sum + running sum of its exact rounding
// errors, as the CPU accumulator does). For float a chunk's four losses are
// first added in plain double and their sum goes into the pair, which spares
// 4.5 of the 7 double operations a two-sum step costs per element: the three
// roundings (each within 2^-53 of a partial sum) can move a float result only
// where the exact sum lies that close to a rounding boundary. Each block
// merges its threads' pairs by warp shuffles and shared memory in a fixed
// tree and writes one partial to a buffer; a second one-block kernel merges
// the partials in a fixed order and rounds once. No atomics are involved, and
// the grid size is a function of n only (not of the device), so a sum or mean
// has the same bits on every run, stream and GPU for the same compiled code.
// Whether a*b+c inside the formulas is contracted to fma is the compiler's
// choice (nvcc contracts by default, --fmad=false turns it off), as it is on
// the CPU; either way the results meet the formulas' bounds, and the
// accumulated value is correctly rounded in practice, so it agrees with the
// CPU kernels' sum.
//
// Validation. The loss kernels check their arguments (null pointers, a
// pos_weight size that does not divide n, a missing output) on the host, and
// make no value checks on the device: an out-of-range probability gives NaN,
// an out-of-range target or negative weight follows the formula. The checks
// the CPU kernels make by default (targets and probabilities in [0, 1],
// weight and pos_weight finite and >= 0, none NaN) are a separate kernel: find_invalid
// (asynchronous, its answer in device memory) or check_inputs (waits, and
// throws naming the first bad index as the CPU kernels do).
#pragma once

// LOGITLOSS_CUDA_EMULATION: the test suite compiles this file with the host
// compiler against an emulation of the CUDA runtime and execution model
// (tests/cuda_emulation), to run these kernels where there is no GPU.
#if !defined(__CUDACC__) && !defined(LOGITLOSS_CUDA_EMULATION)
#error "logitloss/cuda.cuh holds CUDA kernels: compile it with nvcc"
#endif

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "detail/checks.hpp"
#include "formulas.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace cuda {

// How the per-element losses are combined (the CPU kernels' enum, repeated
// here because kernels.hpp needs xsimd).
enum class reduction { none, sum, mean };

// Options of the loss kernels; device pointers throughout. The default is
// PyTorch's: mean, no weights.
template <class T>
struct options {
    reduction reduce = reduction::mean;
    // Per-element weight: null, or n values.
    const T* weight = nullptr;
    // pos_weight (logits only): null, or pos_weight_size values; 1 value
    // applies to every element, C values to n = rows * C elements stored
    // row by row (element i uses pos_weight[i % C]).
    const T* pos_weight = nullptr;
    std::size_t pos_weight_size = 0;
    // reduction::none: the n per-element losses (required then, null else).
    T* losses = nullptr;
    // sum and mean: one value, the reduced loss (required then).
    T* result = nullptr;
    // sum and mean: workspace_size<T>(n) bytes for the per-block partial
    // sums, 16-byte aligned. Null: taken from, and returned to, the
    // stream-ordered allocator (cudaMallocAsync) around the launches.
    void* workspace = nullptr;
    std::size_t workspace_bytes = 0;
};

// Thrown by the host functions. code(): cudaErrorInvalidValue for bad
// arguments and bad input values, else what the CUDA runtime reported.
// index(): the first bad element (or class, for pos_weight) when the
// error is about a value, else no_index.
class error : public std::runtime_error {
public:
    static constexpr std::size_t no_index = static_cast<std::size_t>(-1);
    error(const std::string& what, cudaError_t code, std::size_t index = no_index)
        : std::runtime_error(what), code_(code), index_(index) {}
    [[nodiscard]] cudaError_t code() const noexcept { return code_; }
    [[nodiscard]] std::size_t index() const noexcept { return index_; }

private:
    cudaError_t code_;
    std::size_t index_;
};

// What a loss kernel reads: logits (bce_with_logits) or probabilities (bce).
enum class input_kind { logits, probabilities };

namespace impl {

// Launch shape. Threads take 16-byte chunks (4 floats, 2 doubles) so that
// aligned arrays load and store as one vector per chunk; the grid never
// exceeds max_blocks, enough to fill an H100 (132 SMs x 2048 threads), and
// depends on n only, which is what makes the reduction reproducible.
constexpr unsigned block_threads = 256;
constexpr unsigned max_blocks = 1024;
constexpr unsigned warp_size = 32;
static_assert(block_threads % warp_size == 0 && block_threads / warp_size <= warp_size,
              "the block reduction needs whole warps, at most one warp of them");

template <class T>
struct alignas(16) pack {
    static constexpr unsigned size = 16 / sizeof(T);
    T v[size];
};

template <class T>
__host__ __device__ constexpr std::size_t chunks_of(std::size_t n) noexcept {
    return (n + pack<T>::size - 1) / pack<T>::size;
}

// The m elements of a from a[i0] (a null: zeros), as one 16-byte vector
// load where `whole` (a full chunk, every array of the kernel aligned),
// else element by element: the same values either way.
template <class T>
__device__ LOGITLOSS_INLINE pack<T> load_chunk(const T* a, std::size_t i0, unsigned m, bool whole) {
    pack<T> r{};
    if (a == nullptr) return r;
    if (whole) return *reinterpret_cast<const pack<T>*>(a + i0);
    for (unsigned j = 0; j < m; ++j) r.v[j] = a[i0 + j];
    return r;
}

// The m elements of v into a[i0], as one 16-byte vector store where `whole`.
template <class T>
__device__ LOGITLOSS_INLINE void store_chunk(T* a, std::size_t i0, unsigned m, bool whole, const pack<T>& v) {
    if (whole) {
        *reinterpret_cast<pack<T>*>(a + i0) = v;
        return;
    }
    for (unsigned j = 0; j < m; ++j) a[i0 + j] = v.v[j];
}

// The grid-stride loop of every elementwise kernel: this thread's 16-byte
// chunks of n elements, k = its global index, then k + the grid's threads,
// ..., each as f(i0, m, whole): its first element, its m elements (V, or
// fewer in the last chunk) and whether it may be loaded and stored as one
// vector (`vector`: every array of the kernel 16-byte aligned). The loop
// stops early where f returns false.
template <class T, class F>
__device__ LOGITLOSS_INLINE void for_each_chunk(std::size_t n, bool vector, F&& f) {
    constexpr unsigned V = pack<T>::size;
    const std::size_t chunks = chunks_of<T>(n);
    const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
    for (std::size_t k = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; k < chunks; k += stride) {
        const std::size_t i0 = k * V;
        const unsigned m = n - i0 < V ? static_cast<unsigned>(n - i0) : V;
        if (!f(i0, m, vector && m == V)) return;
    }
}

template <class T>
inline unsigned grid_size(std::size_t n) noexcept {
    const std::size_t blocks = (chunks_of<T>(n) + block_threads - 1) / block_threads;
    return static_cast<unsigned>(blocks < max_blocks ? blocks : max_blocks);
}

inline bool aligned16(const void* p) noexcept {
    return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

// A partial sum hi + lo: hi the plain running sum (it alone carries inf and
// NaN), lo the running sum of hi's exact rounding errors.
struct partial_sum {
    double hi;
    double lo;
};

// s + c += v: the CPU accumulator's two-sum step (detail/ops.hpp).
using ::logitloss::detail::two_sum_add;

__device__ inline void add_to(partial_sum& a, const partial_sum& b) noexcept {
    two_sum_add(a.hi, a.lo, b.hi);
    a.lo += b.lo;
}

// The warp's pairs merged in a fixed tree; the total is in lane 0.
__device__ inline partial_sum warp_sum(partial_sum v) noexcept {
    for (unsigned offset = warp_size / 2; offset > 0; offset /= 2) {
        const partial_sum other{__shfl_down_sync(0xffffffffu, v.hi, offset),
                                __shfl_down_sync(0xffffffffu, v.lo, offset)};
        add_to(v, other);
    }
    return v;
}

// The block's pairs merged in a fixed tree; the total is in thread 0. Every
// thread of the block must call it (blockDim.x == block_threads).
__device__ inline partial_sum block_sum(partial_sum v) noexcept {
    __shared__ partial_sum per_warp[block_threads / warp_size];
    const unsigned lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
    v = warp_sum(v);
    if (lane == 0) per_warp[warp] = v;
    __syncthreads();
    partial_sum r{0.0, 0.0};
    if (warp == 0) {
        if (lane < block_threads / warp_size) r = per_warp[lane];
        r = warp_sum(r);
    }
    return r;
}

// The sum rounded once to T (detail::rounded_sum, as on the CPU).
template <class T>
__device__ inline T rounded(const partial_sum& s) noexcept {
    return ::logitloss::detail::rounded_sum<T>(s.hi, s.lo);
}

template <class T>
struct loss_params {
    const T* x;           // logits or probabilities
    const T* y;           // targets
    const T* weight;      // null: none
    const T* pos_weight;  // classes values; classes == 0: none
    std::size_t classes;
    T* grad;    // null: forward only
    T* losses;  // reduction::none
    std::size_t n;
    bool none;
    bool mean;
    bool vector;     // every array used is 16-byte aligned
    double inv_n;    // float mean: the gradient times 1/n, in double
    double divisor;  // double mean: the gradient divided by n
};

// Loss and gradient of one element, in double before any weight: float
// logits through the double evaluation (the formulas' float path rounds it
// to float; the weights come first here, as on the CPU), double logits and
// probabilities through the public formulas. Unit: no pos_weight.
template <bool Unit, bool Grad>
struct logits_element {
    __device__ LOGITLOSS_INLINE value_and_grad<double> operator()(float x, float y, float pw) const noexcept {
        const double xd = x, yd = y, pd = pw;
        if constexpr (Grad) {
            return ::logitloss::detail::wide_bce_with_logits_value_and_grad<Unit>{}(xd, yd, pd);
        } else {
            return {::logitloss::detail::wide_bce_with_logits<Unit>{}(xd, yd, pd), 0.0};
        }
    }
    __device__ LOGITLOSS_INLINE value_and_grad<double> operator()(double x, double y, double pw) const noexcept {
        if constexpr (Grad) {
            return ::logitloss::bce_with_logits_value_and_grad(x, y, pw);
        } else {
            return {::logitloss::bce_with_logits(x, y, pw), 0.0};
        }
    }
};

template <bool Grad>
struct probabilities_element {
    template <class T>
    __device__ LOGITLOSS_INLINE value_and_grad<double> operator()(T p, T y, T) const noexcept {
        if constexpr (Grad) {
            const value_and_grad<T> r = ::logitloss::bce_value_and_grad(p, y);
            return {static_cast<double>(r.value), static_cast<double>(r.grad)};
        } else {
            return {static_cast<double>(::logitloss::bce(p, y)), 0.0};
        }
    }
};

// Pass 1: elements into losses/gradients and one partial sum per block.
// Thread t takes chunks t, t + stride, ... and adds their elements (for
// float, each chunk's plain double sum) in index order; the vector and
// scalar loads give the same values in the same order, so alignment changes
// the speed, never the bits.
template <class T, class F, bool Grad>
__global__ void __launch_bounds__(block_threads) loss_kernel(const loss_params<T> p, partial_sum* partials) {
    using P = pack<T>;
    constexpr unsigned V = P::size;
    const T single_pw = p.classes == 1 ? p.pos_weight[0] : T(1);
    // float: a chunk's losses added in plain double before the two-sum.
    constexpr bool chunk_first = std::is_same<T, float>::value;
    double s = 0.0, c = 0.0;
    for_each_chunk<T>(p.n, p.vector, [&](std::size_t i0, unsigned m, bool whole) {
        const P x = load_chunk(p.x, i0, m, whole), y = load_chunk(p.y, i0, m, whole),
                w = load_chunk(p.weight, i0, m, whole);
        P pw{}, loss{};
        [[maybe_unused]] P grad{};
        [[maybe_unused]] double chunk = 0.0;
        if (p.classes > 1) {
            // One modulo per chunk, then a wrapping class index.
            std::size_t cls = i0 % p.classes;
            for (unsigned j = 0; j < m; ++j) {
                pw.v[j] = p.pos_weight[cls];
                if (++cls == p.classes) cls = 0;
            }
        } else {
            for (unsigned j = 0; j < V; ++j) pw.v[j] = single_pw;
        }
        for (unsigned j = 0; j < m; ++j) {
            const value_and_grad<double> r = F{}(x.v[j], y.v[j], pw.v[j]);
            double v = r.value, g = r.grad;
            if (p.weight != nullptr) {
                // __dmul_rn: never fused with the addition that follows.
                const double wd = static_cast<double>(w.v[j]);
                v = __dmul_rn(v, wd);
                if constexpr (Grad) g = __dmul_rn(g, wd);
            }
            if constexpr (Grad) {
                if (p.mean) g = std::is_same<T, float>::value ? __dmul_rn(g, p.inv_n) : __ddiv_rn(g, p.divisor);
                grad.v[j] = static_cast<T>(g);
            }
            // Rounded only where stored: conversions from double issue at a
            // fraction of the rate of double arithmetic.
            if (p.none)
                loss.v[j] = static_cast<T>(v);
            else if constexpr (chunk_first)
                chunk = j == 0 ? v : chunk + v;
            else
                two_sum_add(s, c, v);
        }
        if constexpr (chunk_first)
            if (!p.none) two_sum_add(s, c, chunk);
        if (p.none) store_chunk(p.losses, i0, m, whole, loss);
        if constexpr (Grad) store_chunk(p.grad, i0, m, whole, grad);
        return true;
    });
    if (!p.none) {  // uniform over the grid: every thread reaches block_sum
        const partial_sum total = block_sum(partial_sum{s, c});
        if (threadIdx.x == 0) partials[blockIdx.x] = total;
    }
}

// Pass 2, one block: the partials merged in a fixed order, rounded once to
// T, divided by n for the mean (the CPU kernels' order of operations).
template <class T>
__global__ void __launch_bounds__(block_threads)
    finish_kernel(const partial_sum* partials, unsigned count, std::size_t n, bool mean, T* result) {
    partial_sum acc{0.0, 0.0};
    for (unsigned b = threadIdx.x; b < count; b += blockDim.x) add_to(acc, partials[b]);
    const partial_sum total = block_sum(acc);
    if (threadIdx.x == 0) {
        const T sum = rounded<T>(total);
        *result = mean ? ::logitloss::detail::mean_of(sum, total.hi + total.lo, n) : sum;  // as on the CPU
    }
}

struct sigmoid_op {
    template <class T>
    __device__ LOGITLOSS_INLINE T operator()(T x, T) const noexcept {
        return ::logitloss::sigmoid(x);
    }
};

// grad_out * sigmoid'(x): the element-wise sigmoid_backward of
// formulas.hpp, as the CPU kernels compute it.
struct sigmoid_backward_op {
    template <class T>
    __device__ LOGITLOSS_INLINE T operator()(T x, T g) const noexcept {
        return ::logitloss::sigmoid_backward(x, g);
    }
};

// out[i] = F(a[i], b[i]) (b null: F(a[i], 0)); out may alias a or b.
template <class T, class F>
__global__ void __launch_bounds__(block_threads)
    map_kernel(const T* a, const T* b, std::size_t n, T* out, bool vector) {
    using P = pack<T>;
    for_each_chunk<T>(n, vector, [&](std::size_t i0, unsigned m, bool whole) {
        const P av = load_chunk(a, i0, m, whole), bv = load_chunk(b, i0, m, whole);
        P r;
        // All V lanes (a short chunk's last ones are zeros, not stored).
        for (unsigned j = 0; j < P::size; ++j) r.v[j] = F{}(av.v[j], bv.v[j]);
        store_chunk(out, i0, m, whole, r);
        return true;
    });
}

// data[i] *= *factor. Every thread reads the factor first and, where it is
// exactly 1, returns before touching data: x * 1 is x, so the pass would
// change nothing, and skipping it spares reading and writing every element.
template <class T>
__global__ void __launch_bounds__(block_threads)
    scale_kernel(T* data, std::size_t n, const T* factor, bool vector) {
    const T f = *factor;
    if (f == T(1)) return;
    using P = pack<T>;
    for_each_chunk<T>(n, vector, [&](std::size_t i0, unsigned m, bool whole) {
        P v = load_chunk<T>(data, i0, m, whole);
        for (unsigned j = 0; j < P::size; ++j) v.v[j] = v.v[j] * f;
        store_chunk(data, i0, m, whole, v);
        return true;
    });
}

// The value checks. first[0]: the smallest class c with a bad
// pos_weight[c]; first[1]: 4 i + k for the smallest element i with a bad
// value, k = 0 probability, 1 target, 2 weight (the first failing check at
// i, in the CPU kernels' order). ULLONG_MAX: none. Both start at ULLONG_MAX.
// Elements are read in the loss kernels' 16-byte chunks (one vector load
// per array where every array is aligned), so that enough bytes are in
// flight to read at the memory's speed; a thread scans each chunk in index
// order and stops at its first bad element, which is the smallest of its
// later chunks too.
template <class T>
__global__ void __launch_bounds__(block_threads)
    find_invalid_kernel(const T* p, const T* y, const T* w, std::size_t n, const T* pw, std::size_t classes,
                        bool vector, unsigned long long* first) {
    using P = pack<T>;
    const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
    const std::size_t start = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    for (std::size_t c = start; c < classes; c += stride) {
        if (!::logitloss::detail::valid_weight(pw[c])) {
            atomicMin(first, static_cast<unsigned long long>(c));
            break;  // this thread's later classes are larger
        }
    }
    for_each_chunk<T>(n, vector, [&](std::size_t i0, unsigned m, bool whole) {
        const P pv = load_chunk(p, i0, m, whole), yv = load_chunk(y, i0, m, whole), wv = load_chunk(w, i0, m, whole);
        unsigned long long found = ~0ull;
        for (unsigned j = 0; j < m; ++j) {
            unsigned kind = 3;
            if (p != nullptr && !::logitloss::detail::valid_unit(pv.v[j]))
                kind = 0;
            else if (!::logitloss::detail::valid_unit(yv.v[j]))
                kind = 1;
            else if (w != nullptr && !::logitloss::detail::valid_weight(wv.v[j]))
                kind = 2;
            if (kind != 3) {
                found = static_cast<unsigned long long>(i0 + j) * 4u + kind;
                break;
            }
        }
        if (found == ~0ull) return true;
        atomicMin(first + 1, found);
        return false;  // this thread's later chunks are larger
    });
}

template <class T>
struct same_type {
    using type = T;
};

// kernel<<<grid, block_threads, 0, stream>>>(args...): the one place that
// launches, so that the CPU emulation of the test suite can take it over.
// The parameter types come from the kernel alone, and the arguments convert
// to them implicitly, as in a direct launch.
template <class... Params>
inline void launch(void (*kernel)(Params...), unsigned grid, cudaStream_t stream,
                   typename same_type<Params>::type... args) {
#if defined(LOGITLOSS_CUDA_EMULATION) && !defined(__CUDACC__)
    ::logitloss_cuda_emulation::launch(kernel, grid, block_threads, stream, args...);
#else
    kernel<<<grid, block_threads, 0, stream>>>(args...);
#endif
}

[[noreturn]] inline void fail(const char* fn, const std::string& what) {
    throw error(std::string("logitloss::cuda::") + fn + ": " + what, cudaErrorInvalidValue);
}

// Throws for a failed runtime call. The runtime also records the failure as
// this thread's last error; it is cleared here, so that the next launch's
// cudaGetLastError() does not report it again.
inline void check_cuda(const char* fn, const char* step, cudaError_t e) {
    if (e != cudaSuccess) {
        static_cast<void>(cudaGetLastError());
        throw error(std::string("logitloss::cuda::") + fn + ": " + step + " failed: " + cudaGetErrorName(e) + " (" +
                        cudaGetErrorString(e) + ")",
                    e);
    }
}

// The host-side checks of the loss kernels' arguments (the CPU kernels'
// structural checks).
template <class T>
void check_arguments(const char* fn, input_kind kind, const T* x, const T* y, std::size_t n, const T* grad,
                     bool want_grad, const options<T>& o) {
    if (n > 0 && (x == nullptr || y == nullptr)) fail(fn, "input or target pointer is null with n > 0");
    if (want_grad && n > 0 && grad == nullptr) fail(fn, "gradient pointer is null with n > 0");
    if (o.pos_weight_size > 0 || o.pos_weight != nullptr) {
        if (kind == input_kind::probabilities) fail(fn, "pos_weight applies to bce_with_logits only");
        if (o.pos_weight == nullptr || o.pos_weight_size == 0)
            fail(fn, "pos_weight and pos_weight_size must be given together");
        if (n % o.pos_weight_size != 0)
            fail(fn, "pos_weight has " + std::to_string(o.pos_weight_size) + " elements, which does not divide n = " +
                         std::to_string(n));
    }
    if (o.reduce == reduction::none) {
        if (n > 0 && o.losses == nullptr) fail(fn, "reduction::none needs options.losses (n elements)");
    } else {
        if (o.losses != nullptr) fail(fn, "options.losses is only written with reduction::none");
        if (o.result == nullptr) fail(fn, "reduction::sum and ::mean need options.result (one element)");
        if (o.workspace != nullptr &&
            (o.workspace_bytes < grid_size<T>(n) * sizeof(partial_sum) || !aligned16(o.workspace)))
            fail(fn, "options.workspace must be 16-byte aligned and hold workspace_size(n) = " +
                         std::to_string(grid_size<T>(n) * sizeof(partial_sum)) + " bytes");
    }
}

template <class T, class F, bool Grad>
void run_loss(const char* fn, input_kind kind, const T* x, const T* y, std::size_t n, T* grad, const options<T>& o,
              cudaStream_t stream) {
    check_arguments(fn, kind, x, y, n, grad, Grad, o);
    const bool none = o.reduce == reduction::none;
    const bool mean = o.reduce == reduction::mean;
    loss_params<T> p{};
    p.x = x;
    p.y = y;
    p.weight = o.weight;
    p.pos_weight = o.pos_weight;
    p.classes = o.pos_weight_size;
    p.grad = Grad ? grad : nullptr;
    p.losses = o.losses;
    p.n = n;
    p.none = none;
    p.mean = mean;
    p.inv_n = mean && n > 0 ? 1.0 / static_cast<double>(n) : 1.0;
    p.divisor = mean && n > 0 ? static_cast<double>(n) : 1.0;
    p.vector = aligned16(x) && aligned16(y) && aligned16(o.weight) && aligned16(p.grad) && aligned16(o.losses);
    const unsigned blocks = grid_size<T>(n);

    partial_sum* partials = nullptr;
    bool owned = false;
    if (!none && blocks > 0) {
        if (o.workspace != nullptr) {
            partials = static_cast<partial_sum*>(o.workspace);
        } else {
            void* mem = nullptr;
            check_cuda(fn, "cudaMallocAsync of the workspace",
                       cudaMallocAsync(&mem, blocks * sizeof(partial_sum), stream));
            partials = static_cast<partial_sum*>(mem);
            owned = true;
        }
    }
    cudaError_t launched = cudaSuccess;
    if (blocks > 0) {
        launch(loss_kernel<T, F, Grad>, blocks, stream, p, partials);
        launched = cudaGetLastError();
    }
    if (launched == cudaSuccess && !none) {
        launch(finish_kernel<T>, 1, stream, partials, blocks, n, mean, o.result);
        launched = cudaGetLastError();
    }
    // Released after the kernels in stream order, whether they launched or not.
    if (owned) {
        const cudaError_t freed = cudaFreeAsync(partials, stream);
        if (launched == cudaSuccess) launched = freed;
    }
    check_cuda(fn, "kernel launch", launched);
}

template <class T, class F>
void run_map(const char* fn, const T* a, const T* b, std::size_t n, T* out, cudaStream_t stream) {
    if (n > 0 && (a == nullptr || out == nullptr)) fail(fn, "input or output pointer is null with n > 0");
    if (n == 0) return;
    const bool vector = aligned16(a) && aligned16(b) && aligned16(out);
    launch(map_kernel<T, F>, grid_size<T>(n), stream, a, b, n, out, vector);
    check_cuda(fn, "kernel launch", cudaGetLastError());
}

}  // namespace impl

// Bytes of options.workspace that a sum or mean over n elements of T needs.
template <class T>
[[nodiscard]] std::size_t workspace_size(std::size_t n) noexcept {
    return impl::grid_size<T>(n) * sizeof(impl::partial_sum);
}

// BCE with logits over n elements: the losses (reduction::none) or the sum
// or mean (options.result). No value checks (see the file comment).
template <class T>
void bce_with_logits_forward(const T* logits, const T* targets, std::size_t n, const options<T>& opt = {},
                             cudaStream_t stream = nullptr) {
    if (opt.pos_weight_size == 0 && opt.pos_weight == nullptr)
        impl::run_loss<T, impl::logits_element<true, false>, false>(
            "bce_with_logits_forward", input_kind::logits, logits, targets, n, static_cast<T*>(nullptr), opt, stream);
    else
        impl::run_loss<T, impl::logits_element<false, false>, false>(
            "bce_with_logits_forward", input_kind::logits, logits, targets, n, static_cast<T*>(nullptr), opt, stream);
}

// As bce_with_logits_forward, and d(loss)/d(logits) to grad_logits (n
// elements) in the same pass: weight * ((1-y) sigmoid(x) - pos_weight y
// sigmoid(-x)), divided by n for the mean.
template <class T>
void bce_with_logits_forward_backward(const T* logits, const T* targets, std::size_t n, T* grad_logits,
                                      const options<T>& opt = {}, cudaStream_t stream = nullptr) {
    if (opt.pos_weight_size == 0 && opt.pos_weight == nullptr)
        impl::run_loss<T, impl::logits_element<true, true>, true>("bce_with_logits_forward_backward",
                                                                  input_kind::logits, logits, targets, n, grad_logits,
                                                                  opt, stream);
    else
        impl::run_loss<T, impl::logits_element<false, true>, true>("bce_with_logits_forward_backward",
                                                                   input_kind::logits, logits, targets, n,
                                                                   grad_logits, opt, stream);
}

// PyTorch BCELoss on n probabilities (ATen semantics: log clamped at -100).
// A probability outside [0, 1] or NaN gives NaN (check_inputs raises).
template <class T>
void bce_forward(const T* probabilities, const T* targets, std::size_t n, const options<T>& opt = {},
                 cudaStream_t stream = nullptr) {
    impl::run_loss<T, impl::probabilities_element<false>, false>("bce_forward", input_kind::probabilities,
                                                                 probabilities, targets, n, static_cast<T*>(nullptr),
                                                                 opt, stream);
}

// As bce_forward, and d(loss)/d(probabilities) (ATen's backward, its 1e-12
// floor of p(1-p) included) to grad_probabilities.
template <class T>
void bce_forward_backward(const T* probabilities, const T* targets, std::size_t n, T* grad_probabilities,
                          const options<T>& opt = {}, cudaStream_t stream = nullptr) {
    impl::run_loss<T, impl::probabilities_element<true>, true>("bce_forward_backward", input_kind::probabilities,
                                                               probabilities, targets, n, grad_probabilities, opt,
                                                               stream);
}

// out[i] = sigmoid(x[i]) for n elements (out may alias x).
template <class T>
void sigmoid(const T* x, std::size_t n, T* out, cudaStream_t stream = nullptr) {
    impl::run_map<T, impl::sigmoid_op>("sigmoid", x, static_cast<const T*>(nullptr), n, out, stream);
}

// grad_in[i] = grad_out[i] * sigmoid(x[i]) * sigmoid(-x[i]) for n elements:
// the gradient of sigmoid from its input, exact in the tails (grad_in may
// alias x or grad_out).
template <class T>
void sigmoid_backward(const T* x, const T* grad_out, std::size_t n, T* grad_in, cudaStream_t stream = nullptr) {
    if (n > 0 && grad_out == nullptr)
        impl::fail("sigmoid_backward", "grad_out pointer is null with n > 0");
    impl::run_map<T, impl::sigmoid_backward_op>("sigmoid_backward", x, grad_out, n, grad_in, stream);
}

// data[i] *= *factor for n elements, where factor points to one value in
// device memory. It is the chain rule's last step in a backward: the fused
// kernels give the gradient of the loss itself, which an autograd framework
// multiplies by the gradient that arrives from above, a scalar that lives
// on the device. Read there, it makes the host wait for nothing (and the
// call can be captured into a CUDA graph); where it is exactly 1, as for
// loss.backward() on the loss itself, no element is read or written.
template <class T>
void scale(T* data, std::size_t n, const T* factor, cudaStream_t stream = nullptr) {
    constexpr const char* fn = "scale";
    if (n > 0 && (data == nullptr || factor == nullptr)) impl::fail(fn, "data or factor pointer is null with n > 0");
    if (n == 0) return;
    impl::launch(impl::scale_kernel<T>, impl::grid_size<T>(n), stream, data, n, factor, impl::aligned16(data));
    impl::check_cuda(fn, "kernel launch", cudaGetLastError());
}

// Launches the value checks of a loss call (inputs x are checked only for
// probabilities) and leaves the answer in first[0..1] (device memory; the
// encoding is find_invalid_kernel's: ULLONG_MAX for none, else the smallest
// bad pos_weight class, and 4 i + k for the smallest bad element i).
template <class T>
void find_invalid(input_kind kind, const T* x, const T* y, std::size_t n, const options<T>& opt,
                  unsigned long long* first, cudaStream_t stream = nullptr) {
    constexpr const char* fn = "find_invalid";
    if (first == nullptr) impl::fail(fn, "result pointer is null");
    if (n > 0 && (y == nullptr || (kind == input_kind::probabilities && x == nullptr)))
        impl::fail(fn, "input or target pointer is null with n > 0");
    if (opt.pos_weight_size > 0 && opt.pos_weight == nullptr) impl::fail(fn, "pos_weight pointer is null");
    impl::check_cuda(fn, "cudaMemsetAsync", cudaMemsetAsync(first, 0xff, 2 * sizeof(unsigned long long), stream));
    const std::size_t most = n > opt.pos_weight_size ? n : opt.pos_weight_size;
    if (most == 0) return;
    const T* p = kind == input_kind::probabilities ? x : nullptr;
    const bool vector = impl::aligned16(p) && impl::aligned16(y) && impl::aligned16(opt.weight);
    impl::launch(impl::find_invalid_kernel<T>, impl::grid_size<T>(most), stream, p, y, opt.weight, n, opt.pos_weight,
                 opt.pos_weight_size, vector, first);
    impl::check_cuda(fn, "kernel launch", cudaGetLastError());
}

// find_invalid, then waits for its answer and throws logitloss::cuda::error
// naming the first bad value as the CPU kernels do (pos_weight first, then
// the lowest element index). scratch: two unsigned long long of device
// memory, or null to allocate them for the call.
template <class T>
void check_inputs(input_kind kind, const T* x, const T* y, std::size_t n, const options<T>& opt,
                  cudaStream_t stream = nullptr, unsigned long long* scratch = nullptr) {
    constexpr const char* fn = "check_inputs";
    unsigned long long* first = scratch;
    if (first == nullptr) {
        void* mem = nullptr;
        impl::check_cuda(fn, "cudaMallocAsync", cudaMallocAsync(&mem, 2 * sizeof(unsigned long long), stream));
        first = static_cast<unsigned long long*>(mem);
    }
    unsigned long long found[2] = {0, 0};
    try {
        find_invalid(kind, x, y, n, opt, first, stream);
    } catch (...) {
        if (scratch == nullptr) static_cast<void>(cudaFreeAsync(first, stream));
        throw;
    }
    cudaError_t e = cudaMemcpyAsync(found, first, sizeof found, cudaMemcpyDeviceToHost, stream);
    if (scratch == nullptr) {
        const cudaError_t freed = cudaFreeAsync(first, stream);
        if (e == cudaSuccess) e = freed;
    }
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
    impl::check_cuda(fn, "reading the check result", e);

    constexpr unsigned long long none = ~0ull;
    auto value_at = [&](const T* base, std::size_t i) {
        T v{};
        impl::check_cuda(fn, "reading the bad value",
                         cudaMemcpyAsync(&v, base + i, sizeof v, cudaMemcpyDeviceToHost, stream));
        impl::check_cuda(fn, "reading the bad value", cudaStreamSynchronize(stream));
        return ::logitloss::detail::describe(v);
    };
    const std::string prefix = std::string("logitloss::cuda::check_inputs: ");
    if (found[0] != none) {
        const auto c = static_cast<std::size_t>(found[0]);
        throw error(prefix + "pos_weight at index " + std::to_string(c) + " is " + value_at(opt.pos_weight, c) +
                        ", must be finite and >= 0",
                    cudaErrorInvalidValue, c);
    }
    if (found[1] != none) {
        const auto i = static_cast<std::size_t>(found[1] / 4);
        switch (found[1] % 4) {
            case 0:
                throw error(prefix + "probability at index " + std::to_string(i) + " is " + value_at(x, i) +
                                ", must be in [0, 1]",
                            cudaErrorInvalidValue, i);
            case 1:
                throw error(prefix + "target at index " + std::to_string(i) + " is " + value_at(y, i) +
                                ", must be in [0, 1]",
                            cudaErrorInvalidValue, i);
            default:
                throw error(prefix + "weight at index " + std::to_string(i) + " is " + value_at(opt.weight, i) +
                                ", must be finite and >= 0",
                            cudaErrorInvalidValue, i);
        }
    }
}

}  // namespace cuda
LOGITLOSS_NAMESPACE_END
