// Bad input at the array layer: each case is a logitloss::error of the right
// kind, naming the first bad index, with no output written.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <logitloss/logitloss.hpp>

namespace ll = logitloss;

namespace {

constexpr float sentinel = -12345.f;
const float qnan = std::numeric_limits<float>::quiet_NaN();

struct fixture {
    std::vector<float> x = std::vector<float>(40, 0.5f);
    std::vector<float> y = std::vector<float>(40, 1.f);
    std::vector<float> grad = std::vector<float>(40, sentinel);
    std::vector<float> losses = std::vector<float>(40, sentinel);
    bool untouched() const {
        for (std::size_t i = 0; i < 40; ++i)
            if (grad[i] != sentinel || losses[i] != sentinel) return false;
        return true;
    }
};

template <class F>
void expect_error(F f, ll::error_kind kind, std::size_t index, const std::string& needle) {
    bool thrown = false;
    try {
        f();
    } catch (const ll::error& e) {
        thrown = true;
        CHECK(e.kind() == kind);
        CHECK(e.index() == index);
        CAPTURE(std::string(e.what()));
        CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
    CHECK(thrown);
}

}  // namespace

// abi_tagged.cpp: compiled under LOGITLOSS_ABI_TAG unit_test_tag.
float tagged_bce_with_logits_forward(const float* x, const float* y, std::size_t n,
                                     const logitloss::options<float>& opt);
logitloss::value_and_grad<double> tagged_bce_with_logits_value_and_grad(double x, double y);

TEST_CASE("a translation unit with its own LOGITLOSS_ABI_TAG shares the public types") {
    fixture f;
    ll::options<float> o;  // built here, untagged, used there
    o.reduce = ll::reduction::sum;
    CHECK(tagged_bce_with_logits_forward(f.x.data(), f.y.data(), 40, o) ==
          ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, o));
    f.y[7] = 2.f;  // thrown there, caught here as logitloss::error
    expect_error([&] { (void)tagged_bce_with_logits_forward(f.x.data(), f.y.data(), 40, o); },
                 ll::error_kind::target_out_of_range, 7, "target");
    const ll::value_and_grad<double> r = tagged_bce_with_logits_value_and_grad(1.5, 0.25);
    CHECK(r.value == ll::bce_with_logits(1.5, 0.25));
    CHECK(r.grad == ll::bce_with_logits_grad(1.5, 0.25));
}

TEST_CASE("targets out of range or NaN name the first bad index") {
    for (float bad : {-0.5f, 1.5f, qnan, std::numeric_limits<float>::infinity()}) {
        fixture f;
        f.y[23] = bad;
        f.y[31] = -1.f;
        ll::options<float> o;
        o.reduce = ll::reduction::none;
        o.losses = ll::span<float>(f.losses);
        expect_error([&] { (void)ll::bce_with_logits_forward_backward(f.x.data(), f.y.data(), 40, f.grad.data(), o); },
                     ll::error_kind::target_out_of_range, 23, "target at index 23");
        CHECK(f.untouched());
    }
}

TEST_CASE("probabilities outside [0,1] are an error when checking, NaN otherwise") {
    fixture f;
    f.x[5] = 1.0000001f;
    ll::options<float> o;
    o.reduce = ll::reduction::none;
    o.losses = ll::span<float>(f.losses);
    // The value is shown with every digit it needs (not as 1.000000).
    expect_error([&] { (void)ll::bce_forward_backward(f.x.data(), f.y.data(), 40, f.grad.data(), o); },
                 ll::error_kind::probability_out_of_range, 5, "probability at index 5 is 1.00000012, must be in [0, 1]");
    CHECK(f.untouched());
    f.x[5] = qnan;
    expect_error([&] { (void)ll::bce_forward(f.x.data(), f.y.data(), 40, o); },
                 ll::error_kind::probability_out_of_range, 5, "nan");
    CHECK(f.untouched());
    // With the check off the element-wise semantics apply: NaN out.
    o.check = false;
    f.x[5] = 2.f;
    (void)ll::bce_forward_backward(f.x.data(), f.y.data(), 40, f.grad.data(), o);
    CHECK(std::isnan(f.losses[5]));
    CHECK(std::isnan(f.grad[5]));
    CHECK(f.losses[4] == ll::bce(0.5f, 1.f));
}

TEST_CASE("negative, NaN or infinite weight and pos_weight") {
    fixture f;
    std::vector<float> w(40, 1.f);
    w[17] = -0.1f;
    ll::options<float> o;
    o.weight = ll::span<const float>(w);
    expect_error([&] { (void)ll::bce_with_logits_forward_backward(f.x.data(), f.y.data(), 40, f.grad.data(), o); },
                 ll::error_kind::negative_weight, 17, "weight at index 17");
    CHECK(f.untouched());
    w[17] = qnan;
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, o); },
                 ll::error_kind::negative_weight, 17, "weight at index 17");
    // An infinite weight would turn a zero term into inf * 0 = NaN.
    w[17] = std::numeric_limits<float>::infinity();
    expect_error([&] { (void)ll::bce_forward(f.x.data(), f.y.data(), 40, o); }, ll::error_kind::negative_weight, 17,
                 "weight at index 17 is inf, must be finite and >= 0");
    w[17] = std::numeric_limits<float>::max();
    CHECK_NOTHROW((void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, o));
    std::vector<float> pw = {1.f, 2.f, -3.f, 4.f};
    ll::options<float> p;
    p.pos_weight = ll::span<const float>(pw);
    expect_error([&] { (void)ll::bce_with_logits_forward_backward(f.x.data(), f.y.data(), 40, f.grad.data(), p); },
                 ll::error_kind::negative_pos_weight, 2, "pos_weight at index 2 is -3, must be finite and >= 0");
    CHECK(f.untouched());
    pw[2] = std::numeric_limits<float>::infinity();
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, p); },
                 ll::error_kind::negative_pos_weight, 2, "pos_weight at index 2 is inf");
    // A pointer without elements is an error, as for weight.
    p.pos_weight = ll::span<const float>(pw.data(), 0);
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, p); },
                 ll::error_kind::size_mismatch, 0, "pos_weight has a pointer but no elements");
}

TEST_CASE("size mismatches and missing outputs") {
    fixture f;
    std::vector<float> w(39, 1.f);
    ll::options<float> o;
    o.weight = ll::span<const float>(w);
    expect_error([&] { (void)ll::bce_with_logits_forward_backward(f.x.data(), f.y.data(), 40, f.grad.data(), o); },
                 ll::error_kind::size_mismatch, 39, "weight has 39 elements, expected 40");
    std::vector<float> pw(3, 1.f);  // 3 does not divide 40
    ll::options<float> p;
    p.pos_weight = ll::span<const float>(pw);
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, p); },
                 ll::error_kind::size_mismatch, 3, "does not divide n = 40");
    expect_error([&] { (void)ll::bce_forward(f.x.data(), f.y.data(), 40, p); }, ll::error_kind::size_mismatch, 3,
                 "pos_weight applies to bce_with_logits only");
    ll::options<float> none;
    none.reduce = ll::reduction::none;
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, none); },
                 ll::error_kind::missing_output, 0, "reduction::none needs options.losses");
    ll::options<float> stray;
    stray.losses = ll::span<float>(f.losses);
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, stray); },
                 ll::error_kind::size_mismatch, 40, "only written with reduction::none");
    stray.losses = ll::span<float>(f.losses.data(), 0);  // a buffer not sized: an error too
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40, stray); },
                 ll::error_kind::size_mismatch, 0, "only written with reduction::none");
    CHECK(f.untouched());
}

TEST_CASE("null pointers with n > 0") {
    fixture f;
    expect_error([&] { (void)ll::bce_with_logits_forward(static_cast<const float*>(nullptr), f.y.data(), 40); },
                 ll::error_kind::null_pointer, 0, "input pointer is null");
    expect_error([&] { (void)ll::bce_with_logits_forward(f.x.data(), static_cast<const float*>(nullptr), 40); },
                 ll::error_kind::null_pointer, 0, "target pointer is null");
    expect_error([&] { (void)ll::bce_with_logits_forward_backward(f.x.data(), f.y.data(), 40, static_cast<float*>(nullptr)); },
                 ll::error_kind::null_pointer, 0, "gradient pointer is null");
    expect_error([&] { ll::sigmoid(f.x.data(), 40, static_cast<float*>(nullptr)); }, ll::error_kind::null_pointer, 0,
                 "null");
    expect_error([&] { ll::sigmoid_backward(f.x.data(), static_cast<const float*>(nullptr), 40, f.x.data()); },
                 ll::error_kind::null_pointer, 0, "grad_out pointer is null");
    expect_error([&] { ll::sigmoid_backward(f.x.data(), f.y.data(), 40, static_cast<float*>(nullptr)); },
                 ll::error_kind::null_pointer, 0, "input or output pointer is null");
    // n == 0 with null pointers is fine.
    CHECK(ll::bce_with_logits_forward_backward(static_cast<const float*>(nullptr), static_cast<const float*>(nullptr), 0,
                                               static_cast<float*>(nullptr), ll::options<float>{ll::reduction::sum}) == 0.f);
}

TEST_CASE("the error is a std::invalid_argument") {
    fixture f;
    f.y[0] = 2.f;
    CHECK_THROWS_AS((void)ll::bce_with_logits_forward(f.x.data(), f.y.data(), 40), std::invalid_argument);
}
