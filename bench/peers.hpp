// The same fused BCE-with-logits kernel (mean loss and its gradient in one
// call) written the ways a user would write it today, so that the benchmark
// compares logitloss with each in one run:
//   naive   a plain loop over std::exp / std::log1p
//   eigen   an Eigen 3.4 array expression
//   sleef   SLEEF 3.5 u10 exp and log1p on AVX-512 intrinsics, or AVX2 ones
//           where the build has no AVX-512 (none below AVX2)
//   hwy     Highway 1.0 contrib/math Exp and Log1p, static target
//   floor   a stream kernel that moves the same bytes and computes nothing
// Every kernel: loss = mean(max(x,0) - x y + log1p(exp(-|x|))),
// grad = (sigmoid(x) - y) / n.
#pragma once

#include <cmath>
#include <cstddef>

#include <Eigen/Core>

#if LOGITLOSS_BENCH_SLEEF
#include <immintrin.h>
#include <sleef.h>
#endif

#if LOGITLOSS_BENCH_HWY
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>
#endif

namespace peers {

// ---- naive loop, as people write it ---------------------------------------
template <class T>
T naive_fb(const T* x, const T* y, std::size_t n, T* g) {
    T acc = 0;
    const T inv_n = T(1) / static_cast<T>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const T xi = x[i];
        acc += std::fmax(xi, T(0)) - xi * y[i] + std::log1p(std::exp(-std::fabs(xi)));
        g[i] = (T(1) / (T(1) + std::exp(-xi)) - y[i]) * inv_n;
    }
    return acc * inv_n;
}
template <class T>
T naive_forward(const T* x, const T* y, std::size_t n) {
    T acc = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const T xi = x[i];
        acc += std::fmax(xi, T(0)) - xi * y[i] + std::log1p(std::exp(-std::fabs(xi)));
    }
    return acc / static_cast<T>(n);
}
template <class T>
void naive_sigmoid(const T* x, std::size_t n, T* out) {
    for (std::size_t i = 0; i < n; ++i) out[i] = T(1) / (T(1) + std::exp(-x[i]));
}

// ---- Eigen 3.4 array expression --------------------------------------------
template <class T>
using arr = Eigen::Array<T, Eigen::Dynamic, 1>;
template <class T>
T eigen_fb(const T* x, const T* y, std::size_t n, T* g) {
    const auto N = static_cast<Eigen::Index>(n);
    Eigen::Map<const arr<T>> X(x, N), Y(y, N);
    Eigen::Map<arr<T>> G(g, N);
    const T loss = (X.max(T(0)) - X * Y + (-X.abs()).exp().log1p()).mean();
    G = (T(1) / (T(1) + (-X).exp()) - Y) / static_cast<T>(n);
    return loss;
}
template <class T>
T eigen_forward(const T* x, const T* y, std::size_t n) {
    const auto N = static_cast<Eigen::Index>(n);
    Eigen::Map<const arr<T>> X(x, N), Y(y, N);
    return (X.max(T(0)) - X * Y + (-X.abs()).exp().log1p()).mean();
}
template <class T>
void eigen_sigmoid(const T* x, std::size_t n, T* out) {
    const auto N = static_cast<Eigen::Index>(n);
    Eigen::Map<arr<T>>(out, N) = T(1) / (T(1) + (-Eigen::Map<const arr<T>>(x, N)).exp());
}

// sigmoid's backward as autograd code usually writes it: from s = sigmoid(x),
// g * s * (1 - s), which is 0 wherever s has rounded to 1.
template <class T>
void naive_sigmoid_backward(const T* x, const T* g, std::size_t n, T* out) {
    for (std::size_t i = 0; i < n; ++i) {
        const T s = T(1) / (T(1) + std::exp(-x[i]));
        out[i] = g[i] * s * (T(1) - s);
    }
}
template <class T>
void eigen_sigmoid_backward(const T* x, const T* g, std::size_t n, T* out) {
    const auto N = static_cast<Eigen::Index>(n);
    const auto s = T(1) / (T(1) + (-Eigen::Map<const arr<T>>(x, N)).exp());
    Eigen::Map<arr<T>>(out, N) = Eigen::Map<const arr<T>>(g, N) * s * (T(1) - s);
}

// ---- stream floor: the bytes of each kernel, no arithmetic to speak of ------
template <class T>
T floor_fb(const T* x, const T* y, std::size_t n, T* g) {  // read 2, write 1
    for (std::size_t i = 0; i < n; ++i) g[i] = x[i] + y[i];
    return g[0];
}
template <class T>
T floor_forward(const T* x, const T* y, std::size_t n) {  // read 2
    T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += x[i] + y[i];
        a1 += x[i + 1] + y[i + 1];
        a2 += x[i + 2] + y[i + 2];
        a3 += x[i + 3] + y[i + 3];
    }
    for (; i < n; ++i) a0 += x[i] + y[i];
    return (a0 + a1) + (a2 + a3);
}
template <class T>
void floor_sigmoid(const T* x, std::size_t n, T* out) {  // read 1, write 1
    for (std::size_t i = 0; i < n; ++i) out[i] = x[i];
}
template <class T>
void floor_sigmoid_backward(const T* x, const T* g, std::size_t n, T* out) {  // read 2, write 1
    for (std::size_t i = 0; i < n; ++i) out[i] = x[i] + g[i];
}

#if LOGITLOSS_BENCH_SLEEF && defined(__AVX512F__)
// ---- SLEEF u10, AVX-512 -----------------------------------------------------
inline float sleef_fb(const float* x, const float* y, std::size_t n, float* g) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f), inv_n = _mm512_set1_ps(1.f / static_cast<float>(n));
    const __m512 sign = _mm512_set1_ps(-0.f);
    __m512 acc = zero;
    for (std::size_t i = 0; i + 16 <= n; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i), yv = _mm512_loadu_ps(y + i);
        const __m512 e = Sleef_expf16_u10(_mm512_or_ps(xv, sign));  // exp(-|x|)
        const __m512 l = Sleef_log1pf16_u10(e);
        acc = _mm512_add_ps(acc, _mm512_add_ps(_mm512_sub_ps(_mm512_max_ps(xv, zero), _mm512_mul_ps(xv, yv)), l));
        const __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e));
        const __m512 s = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(xv, zero, _CMP_GE_OQ), _mm512_mul_ps(e, r), r);
        _mm512_storeu_ps(g + i, _mm512_mul_ps(_mm512_sub_ps(s, yv), inv_n));
    }
    return _mm512_reduce_add_ps(acc) / static_cast<float>(n);
}
inline double sleef_fb(const double* x, const double* y, std::size_t n, double* g) {
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0), inv_n = _mm512_set1_pd(1.0 / static_cast<double>(n));
    const __m512d sign = _mm512_set1_pd(-0.0);
    __m512d acc = zero;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        const __m512d xv = _mm512_loadu_pd(x + i), yv = _mm512_loadu_pd(y + i);
        const __m512d e = Sleef_expd8_u10(_mm512_or_pd(xv, sign));
        const __m512d l = Sleef_log1pd8_u10(e);
        acc = _mm512_add_pd(acc, _mm512_add_pd(_mm512_sub_pd(_mm512_max_pd(xv, zero), _mm512_mul_pd(xv, yv)), l));
        const __m512d r = _mm512_div_pd(one, _mm512_add_pd(one, e));
        const __m512d s = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(xv, zero, _CMP_GE_OQ), _mm512_mul_pd(e, r), r);
        _mm512_storeu_pd(g + i, _mm512_mul_pd(_mm512_sub_pd(s, yv), inv_n));
    }
    return _mm512_reduce_add_pd(acc) / static_cast<double>(n);
}
#define LOGITLOSS_BENCH_HAVE_SLEEF 1
#elif LOGITLOSS_BENCH_SLEEF && defined(__AVX2__) && defined(__FMA__)
// ---- SLEEF u10, AVX2 (machines without AVX-512) -----------------------------
inline float sleef_fb(const float* x, const float* y, std::size_t n, float* g) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f), inv_n = _mm256_set1_ps(1.f / static_cast<float>(n));
    const __m256 sign = _mm256_set1_ps(-0.f);
    __m256 acc = zero;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i), yv = _mm256_loadu_ps(y + i);
        const __m256 e = Sleef_expf8_u10(_mm256_or_ps(xv, sign));  // exp(-|x|)
        const __m256 l = Sleef_log1pf8_u10(e);
        acc = _mm256_add_ps(acc, _mm256_add_ps(_mm256_sub_ps(_mm256_max_ps(xv, zero), _mm256_mul_ps(xv, yv)), l));
        const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
        const __m256 s = _mm256_blendv_ps(r, _mm256_mul_ps(e, r), _mm256_cmp_ps(xv, zero, _CMP_LT_OQ));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_sub_ps(s, yv), inv_n));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) /
           static_cast<float>(n);
}
inline double sleef_fb(const double* x, const double* y, std::size_t n, double* g) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0), inv_n = _mm256_set1_pd(1.0 / static_cast<double>(n));
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d acc = zero;
    for (std::size_t i = 0; i + 4 <= n; i += 4) {
        const __m256d xv = _mm256_loadu_pd(x + i), yv = _mm256_loadu_pd(y + i);
        const __m256d e = Sleef_expd4_u10(_mm256_or_pd(xv, sign));
        const __m256d l = Sleef_log1pd4_u10(e);
        acc = _mm256_add_pd(acc, _mm256_add_pd(_mm256_sub_pd(_mm256_max_pd(xv, zero), _mm256_mul_pd(xv, yv)), l));
        const __m256d r = _mm256_div_pd(one, _mm256_add_pd(one, e));
        const __m256d s = _mm256_blendv_pd(r, _mm256_mul_pd(e, r), _mm256_cmp_pd(xv, zero, _CMP_LT_OQ));
        _mm256_storeu_pd(g + i, _mm256_mul_pd(_mm256_sub_pd(s, yv), inv_n));
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, acc);
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) / static_cast<double>(n);
}
#define LOGITLOSS_BENCH_HAVE_SLEEF 1
#endif

#if LOGITLOSS_BENCH_HWY
// ---- Highway 1.0 contrib/math, static target --------------------------------
namespace hn = hwy::HWY_NAMESPACE;
template <class T>
T hwy_fb(const T* x, const T* y, std::size_t n, T* g) {
    const hn::ScalableTag<T> d;
    const std::size_t lanes = hn::Lanes(d);
    const auto zero = hn::Zero(d), one = hn::Set(d, T(1)), inv_n = hn::Set(d, T(1) / static_cast<T>(n));
    auto acc = zero;
    for (std::size_t i = 0; i + lanes <= n; i += lanes) {
        const auto xv = hn::LoadU(d, x + i), yv = hn::LoadU(d, y + i);
        const auto e = hn::Exp(d, hn::Neg(hn::Abs(xv)));
        const auto l = hn::Log1p(d, e);
        acc = hn::Add(acc, hn::Add(hn::Sub(hn::Max(xv, zero), hn::Mul(xv, yv)), l));
        const auto r = hn::Div(one, hn::Add(one, e));
        const auto s = hn::IfThenElse(xv >= zero, r, hn::Mul(e, r));
        hn::StoreU(hn::Mul(hn::Sub(s, yv), inv_n), d, g + i);
    }
    return hn::GetLane(hn::SumOfLanes(d, acc)) / static_cast<T>(n);
}
#define LOGITLOSS_BENCH_HAVE_HWY 1
#endif

}  // namespace peers
