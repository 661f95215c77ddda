// The saturation thresholds are re-derived here: each property holds at the
// threshold and fails at the neighbouring value of the type.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <logitloss/logitloss.hpp>

namespace ll = logitloss;

namespace {

// sigmoid in long double (64-bit significand: far more than the margins
// checked below need).
long double sigmoid_ld(long double x) {
    return x >= 0 ? 1.0L / (1.0L + std::exp(-x)) : std::exp(x) / (1.0L + std::exp(x));
}

template <class T>
constexpr int significand_bits() {
    return std::numeric_limits<T>::digits;  // 24 or 53
}

template <class T>
T up(T x) {
    return std::nextafter(x, std::numeric_limits<T>::infinity());
}
template <class T>
T down(T x) {
    return std::nextafter(x, -std::numeric_limits<T>::infinity());
}

}  // namespace

TEST_CASE_TEMPLATE("sigmoid_one and sigmoid_zero: where the correctly rounded sigmoid saturates", T, float, double) {
    using th = ll::thresholds<T>;
    const int p = significand_bits<T>();
    // 1 - sigmoid(x) = sigmoid(-x) falls to half an ulp of 1, 2^-(p+1).
    const long double half_ulp_one = std::ldexp(1.0L, -(p + 1));
    CHECK(sigmoid_ld(-static_cast<long double>(th::sigmoid_one)) < half_ulp_one);
    CHECK(sigmoid_ld(-static_cast<long double>(down(th::sigmoid_one))) > half_ulp_one);
    // sigmoid(x) falls under half the smallest subnormal.
    const long double half_denorm = std::ldexp(static_cast<long double>(std::numeric_limits<T>::denorm_min()), -1);
    CHECK(sigmoid_ld(static_cast<long double>(th::sigmoid_zero)) < half_denorm);
    CHECK(sigmoid_ld(static_cast<long double>(up(th::sigmoid_zero))) > half_denorm);
    // The closed forms stated in diagnostics.hpp.
    const long double one_form = std::log(std::ldexp(1.0L, p + 1) - 1.0L);
    CHECK(static_cast<long double>(down(th::sigmoid_one)) < one_form);
    CHECK(static_cast<long double>(th::sigmoid_one) > one_form);
    // logitloss::sigmoid saturates exactly there.
    CHECK(ll::sigmoid(th::sigmoid_one) == T(1));
    CHECK(ll::sigmoid(down(th::sigmoid_one)) < T(1));
    CHECK(ll::sigmoid(th::sigmoid_zero) == T(0));
    CHECK(ll::sigmoid(up(th::sigmoid_zero)) > T(0));
}

TEST_CASE_TEMPLATE("naive thresholds: where 1/(1+exp(-x)) saturates", T, float, double) {
    using th = ll::thresholds<T>;
    CHECK(ll::naive::sigmoid(th::naive_sigmoid_one) == T(1));
    CHECK(ll::naive::sigmoid(down(th::naive_sigmoid_one)) < T(1));
    CHECK(ll::naive::sigmoid(th::naive_sigmoid_zero) == T(0));
    CHECK(ll::naive::sigmoid(up(th::naive_sigmoid_zero)) > T(0));
    // The closed forms: p ln 2 and -ln(max).
    const long double ln2 = std::log(2.0L);
    CHECK(std::fabs(static_cast<long double>(th::naive_sigmoid_one) - significand_bits<T>() * ln2) <
          std::ldexp(static_cast<long double>(th::naive_sigmoid_one), -significand_bits<T>() + 2));
    CHECK(std::fabs(static_cast<long double>(th::naive_sigmoid_zero) +
                    std::log(static_cast<long double>(std::numeric_limits<T>::max()))) <
          std::ldexp(std::fabs(static_cast<long double>(th::naive_sigmoid_zero)), -significand_bits<T>() + 2));
}

TEST_CASE_TEMPLATE("Sigmoid -> BCELoss gradient is exactly 0 in the dead zones, and only there", T, float, double) {
    using th = ll::thresholds<T>;
    for (T y : {T(0), T(0.5), T(1)}) {
        CAPTURE(y);
        CHECK(ll::naive::sigmoid_bce_grad(th::naive_sigmoid_one, y) == T(0));
        CHECK(ll::naive::sigmoid_bce_grad(T(2) * th::naive_sigmoid_one, y) == T(0));
        CHECK(ll::naive::sigmoid_bce_grad(th::naive_sigmoid_zero, y) == T(0));
        CHECK(ll::naive::sigmoid_bce_grad(T(2) * th::naive_sigmoid_zero, y) == T(0));
        // The stable gradient is alive in both zones whenever sigmoid(x) - y != 0.
        if (y > T(0)) CHECK(ll::bce_with_logits_grad(th::naive_sigmoid_zero, y) < T(0));
        if (y < T(1)) CHECK(ll::bce_with_logits_grad(th::naive_sigmoid_one, y) > T(0));
        CHECK(ll::bce_with_logits_grad(th::naive_sigmoid_one, y) != T(0));
    }
    // Just inside, the naive gradient is still non-zero for both hard targets:
    // every value of the type in the window below naive_sigmoid_one (float:
    // all of them; double: a stride) and above naive_sigmoid_zero.
    const std::size_t steps = std::is_same<T, float>::value ? 1u << 20 : 1u << 16;
    T hi = down(th::naive_sigmoid_one), lo = up(th::naive_sigmoid_zero);
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < steps; ++i, hi = down(hi), lo = up(lo)) {
        zeros += ll::naive::sigmoid_bce_grad(hi, T(0)) == T(0);
        zeros += ll::naive::sigmoid_bce_grad(hi, T(1)) == T(0);
        zeros += ll::naive::sigmoid_bce_grad(lo, T(1)) == T(0);
    }
    CHECK(zeros == 0);
}

TEST_CASE_TEMPLATE("Sigmoid -> BCELoss gradient floors p(1 - p) at ATen's 1e-12f in both types", T, float, double) {
    // At x = 30, p(1 - p) is about 9.4e-14, under the floor: the chained
    // gradient is (p - y) / eps * (1 - p) p with eps the float constant
    // 1e-12f (for double 9.99999996e-13, not 1e-12: a difference of 4e-9
    // relative, which double resolves).
    const T x = T(30);
    const T p = ll::naive::sigmoid(x);
    REQUIRE((T(1) - p) * p < T(1e-12f));
    const T eps = static_cast<T>(1e-12f);
    CHECK(ll::naive::sigmoid_bce_grad(x, T(0)) == p / eps * (T(1) - p) * p);
    if (std::is_same<T, double>::value) CHECK(ll::naive::sigmoid_bce_grad(x, T(0)) != p / T(1e-12) * (T(1) - p) * p);
}

TEST_CASE_TEMPLATE("saturation report counts the dead zones", T, float, double) {
    using th = ll::thresholds<T>;
    const T inf = std::numeric_limits<T>::infinity();
    const std::vector<T> x = {T(0), th::naive_sigmoid_one, down(th::naive_sigmoid_one), th::sigmoid_one, inf,
                              th::naive_sigmoid_zero, up(th::naive_sigmoid_zero), th::sigmoid_zero, -inf,
                              std::numeric_limits<T>::quiet_NaN()};
    const auto r = ll::saturation(x.data(), x.size());
    CHECK(r.count == 10);
    CHECK(r.dead_high == 3);    // naive_one, sigmoid_one, inf
    CHECK(r.dead_low == 3);     // naive_zero, sigmoid_zero, -inf
    CHECK(r.sigmoid_one == 2);  // sigmoid_one, inf
    CHECK(r.sigmoid_zero == 2);
    CHECK(r.nan == 1);
    CHECK(r.fraction_dead() == doctest::Approx(0.6));
    CHECK(ll::saturation<T>(nullptr, 0).fraction_dead() == 0.0);
}
