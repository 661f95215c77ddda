// The special-values table of the README, row by row, for float and double,
// through the scalar functions and through xsimd batches. Keep the two in
// step: each row here is a row there.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <logitloss/logitloss.hpp>

#include "support.hpp"

namespace ll = logitloss;

namespace {

enum class expect_kind { value, nan, positive_zero, negative_zero };

template <class T>
struct row {
    std::string call;  // as written in the README
    std::function<T(T, T)> scalar;
    std::function<xsimd::batch<T>(xsimd::batch<T>, xsimd::batch<T>)> simd;
    T a, b;
    expect_kind kind;
    T value;
};

template <class T>
void check_result(const row<T>& r, T got) {
    CAPTURE(r.call);
    CAPTURE(got);
    switch (r.kind) {
        case expect_kind::nan: CHECK(std::isnan(got)); break;
        case expect_kind::positive_zero: CHECK((got == T(0) && !std::signbit(got))); break;
        case expect_kind::negative_zero: CHECK((got == T(0) && std::signbit(got))); break;
        case expect_kind::value:
            if (std::isinf(r.value))
                CHECK(got == r.value);
            else
                CHECK(support::ulp_distance(got, r.value) <= 1);
            break;
    }
}

#define LL_ROW1(fn, x, kind, v)                                                                  \
    row<T> {                                                                                     \
        #fn "(" #x ")", [](T a, T) { return ll::fn(a); }, [](B a, B) { return ll::fn(a); }, x, T(0), \
            expect_kind::kind, v                                                                 \
    }
#define LL_ROW2(fn, x, y, kind, v)                                                                          \
    row<T> {                                                                                                \
        #fn "(" #x ", " #y ")", [](T a, T b) { return ll::fn(a, b); }, [](B a, B b) { return ll::fn(a, b); }, x, \
            y, expect_kind::kind, v                                                                         \
    }

template <class T>
std::vector<row<T>> table() {
    using B = xsimd::batch<T>;
    const T inf = std::numeric_limits<T>::infinity();
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const T tiny = std::numeric_limits<T>::denorm_min();
    const T ln2 = T(0.693147180559945309417232121458176568L);
    const T big = T(1) / T(1e-12f);  // ATen's gradient floor, a float constant
    (void)tiny;
    return {
        // sigmoid
        LL_ROW1(sigmoid, T(+0.0), value, T(0.5)),
        LL_ROW1(sigmoid, T(-0.0), value, T(0.5)),
        LL_ROW1(sigmoid, tiny, value, T(0.5)),
        LL_ROW1(sigmoid, inf, value, T(1)),
        LL_ROW1(sigmoid, -inf, positive_zero, T(0)),
        LL_ROW1(sigmoid, nan, nan, T(0)),
        // sigmoid_grad, sigmoid_backward
        LL_ROW1(sigmoid_grad, T(+0.0), value, T(0.25)),
        LL_ROW1(sigmoid_grad, T(-0.0), value, T(0.25)),
        LL_ROW1(sigmoid_grad, tiny, value, T(0.25)),
        LL_ROW1(sigmoid_grad, inf, positive_zero, T(0)),
        LL_ROW1(sigmoid_grad, -inf, positive_zero, T(0)),
        LL_ROW1(sigmoid_grad, nan, nan, T(0)),
        LL_ROW2(sigmoid_backward, T(0), T(-2), value, T(-0.5)),
        LL_ROW2(sigmoid_backward, inf, T(-1), negative_zero, T(0)),
        LL_ROW2(sigmoid_backward, -inf, inf, nan, T(0)),
        LL_ROW2(sigmoid_backward, T(0), nan, nan, T(0)),
        LL_ROW2(sigmoid_backward, nan, T(1), nan, T(0)),
        // log_sigmoid
        LL_ROW1(log_sigmoid, T(+0.0), value, -ln2),
        LL_ROW1(log_sigmoid, T(-0.0), value, -ln2),
        LL_ROW1(log_sigmoid, inf, negative_zero, T(0)),
        LL_ROW1(log_sigmoid, -inf, value, -inf),
        LL_ROW1(log_sigmoid, nan, nan, T(0)),
        // softplus
        LL_ROW1(softplus, T(+0.0), value, ln2),
        LL_ROW1(softplus, T(-0.0), value, ln2),
        LL_ROW1(softplus, tiny, value, ln2),
        LL_ROW1(softplus, inf, value, inf),
        LL_ROW1(softplus, -inf, positive_zero, T(0)),
        LL_ROW1(softplus, nan, nan, T(0)),
        // bce_with_logits
        LL_ROW2(bce_with_logits, T(0), T(0), value, ln2),
        LL_ROW2(bce_with_logits, T(-0.0), T(1), value, ln2),
        LL_ROW2(bce_with_logits, inf, T(0), value, inf),
        LL_ROW2(bce_with_logits, inf, T(1), positive_zero, T(0)),
        LL_ROW2(bce_with_logits, -inf, T(0), positive_zero, T(0)),
        LL_ROW2(bce_with_logits, -inf, T(1), value, inf),
        LL_ROW2(bce_with_logits, inf, T(0.5), value, inf),
        LL_ROW2(bce_with_logits, -inf, T(0.5), value, inf),
        LL_ROW2(bce_with_logits, nan, T(1), nan, T(0)),
        LL_ROW2(bce_with_logits, T(1), nan, nan, T(0)),
        LL_ROW2(bce_with_logits, T(0), T(2), value, ln2),  // y outside [0,1]: the formula as written
        // bce_with_logits_grad
        LL_ROW2(bce_with_logits_grad, T(0), T(0), value, T(0.5)),
        LL_ROW2(bce_with_logits_grad, T(-0.0), T(1), value, T(-0.5)),
        LL_ROW2(bce_with_logits_grad, inf, T(0), value, T(1)),
        LL_ROW2(bce_with_logits_grad, inf, T(1), positive_zero, T(0)),
        LL_ROW2(bce_with_logits_grad, -inf, T(0), positive_zero, T(0)),
        LL_ROW2(bce_with_logits_grad, -inf, T(1), value, T(-1)),
        LL_ROW2(bce_with_logits_grad, nan, T(0), nan, T(0)),
        LL_ROW2(bce_with_logits_grad, T(1), nan, nan, T(0)),
        // bce on probabilities (ATen semantics)
        LL_ROW2(bce, T(0), T(0), positive_zero, T(0)),
        LL_ROW2(bce, T(-0.0), T(1), value, T(100)),
        LL_ROW2(bce, T(0), T(1), value, T(100)),
        LL_ROW2(bce, T(1), T(0), value, T(100)),
        LL_ROW2(bce, T(1), T(1), positive_zero, T(0)),
        LL_ROW2(bce, T(-0.25), T(1), nan, T(0)),
        LL_ROW2(bce, T(1.25), T(0), nan, T(0)),
        LL_ROW2(bce, -inf, T(0), nan, T(0)),
        LL_ROW2(bce, nan, T(0), nan, T(0)),
        LL_ROW2(bce, T(0.5), nan, nan, T(0)),
        // bce_grad
        LL_ROW2(bce_grad, T(0), T(0), positive_zero, T(0)),
        LL_ROW2(bce_grad, T(0), T(1), value, -big),
        LL_ROW2(bce_grad, T(1), T(0), value, big),
        LL_ROW2(bce_grad, T(1), T(1), positive_zero, T(0)),
        LL_ROW2(bce_grad, T(-0.25), T(1), nan, T(0)),
        LL_ROW2(bce_grad, T(1.25), T(0), nan, T(0)),
        LL_ROW2(bce_grad, nan, T(0), nan, T(0)),
        LL_ROW2(bce_grad, T(0.5), nan, nan, T(0)),
    };
}

}  // namespace

TEST_CASE_TEMPLATE("special values: every row of the README table, scalar and SIMD", T, float, double) {
    using B = xsimd::batch<T>;
    for (const auto& r : table<T>()) {
        check_result(r, r.scalar(r.a, r.b));
        alignas(64) T out[B::size];
        r.simd(B(r.a), B(r.b)).store_aligned(out);
        for (std::size_t j = 0; j < B::size; ++j) check_result(r, out[j]);
    }
}
