// The CUDA kernels of logitloss/cuda.cuh, run on the CPU through the
// emulated runtime and execution model of tests/cuda_emulation: every block,
// warp shuffle and barrier of the kernels' own source executes, where this
// machine has no GPU. Per-element losses and gradients and the reduced sum
// and mean must be the reference's bits (see reference()) on every path:
// vector and scalar loads, weight, pos_weight of one value or of C classes,
// a grid capped at max_blocks; the value checks must name the first bad
// element as the CPU kernels do; scale must multiply every element, and
// touch none for a factor of 1; bad arguments and a failed allocation are
// errors that leak nothing. Built for baseline x86-64 without contraction of
// a*b+c, as the unit tests.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <mpfr.h>

#include <logitloss/logitloss.hpp>
// After the CPU headers: the emulation defines __global__, __device__, ...
#include <logitloss/cuda.cuh>

#include "support.hpp"

namespace ll = logitloss;
namespace lc = logitloss::cuda;
namespace emu = logitloss_cuda_emulation;

namespace {

// The same bits, or both NaN.
template <class T>
bool same_bits(T a, T b) {
    return (std::isnan(a) && std::isnan(b)) || support::to_bits(a) == support::to_bits(b);
}

// First index where two arrays differ in their bits, or -1.
template <class T>
long first_difference(const T* a, const T* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!same_bits(a[i], b[i])) return static_cast<long>(i);
    return -1;
}

// An array that starts `offset` elements into its storage (offset 1: not
// 16-byte aligned, which sends the kernels down their scalar path).
template <class T>
struct buffer {
    buffer(std::size_t n, std::size_t offset, T fill = T(0)) : storage(n + offset + 1, fill), data(storage.data() + offset) {}
    std::vector<T> storage;
    T* data;
};

template <class T>
struct inputs {
    inputs(std::size_t n, std::size_t offset, bool probabilities, std::uint64_t seed)
        : x(n, offset), y(n, offset), w(n, offset), pw(7, 0) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> logit(0.0, 8.0);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        for (std::size_t i = 0; i < n; ++i) {
            x.data[i] = static_cast<T>(probabilities ? u(rng) : logit(rng));
            const double r = u(rng);
            y.data[i] = static_cast<T>(r < 0.4 ? 0.0 : r < 0.8 ? 1.0 : u(rng));
            // Weights in [-0.25, 1.75): the kernels follow the formula for a
            // negative one (only the checks reject it), so that the sums
            // cancel.
            w.data[i] = static_cast<T>(2 * u(rng) - 0.25);
        }
        if (!probabilities && n >= 8) {  // the tails and the infinities
            x.data[1] = T(-1e4);
            x.data[2] = T(1e4);
            x.data[3] = T(-40);
            x.data[5] = T(90);
        }
        if (probabilities && n >= 8) {  // exact 0 and 1, the log clamp
            x.data[1] = T(0);
            x.data[2] = T(1);
            x.data[3] = std::numeric_limits<T>::denorm_min();
        }
        for (std::size_t c = 0; c < 7; ++c) pw.data[c] = static_cast<T>(3 * u(rng));
    }
    buffer<T> x, y, w, pw;
};

// The largest of 7, 5, 3, 2 that divides n, else 1: the pos_weight classes.
std::size_t classes_for(std::size_t n) {
    for (std::size_t c : {7u, 5u, 3u, 2u})
        if (n % c == 0) return c;
    return 1;
}

lc::reduction to_cuda(ll::reduction r) {
    return r == ll::reduction::none ? lc::reduction::none : r == ll::reduction::sum ? lc::reduction::sum
                                                                                     : lc::reduction::mean;
}

std::string name_of(ll::reduction r) {
    return r == ll::reduction::none ? "none" : r == ll::reduction::sum ? "sum" : "mean";
}

struct loss_case {
    std::size_t n;
    ll::reduction reduce;
    bool grad;
    bool weight;
    int pos_weight;  // 0: none, 1: one value, 2: C classes
    std::size_t offset;  // of the inputs and, unless out_offset says otherwise, of the outputs
    int out_offset = -1;
};

// What a loss call must produce: the per-element losses (none), the
// gradients and the reduced value.
template <class T>
struct outputs {
    outputs(std::size_t n, std::size_t offset) : losses(n, offset, T(-7)), grad(n, offset, T(-7)), result(1, 0, T(-7)) {}
    buffer<T> losses, grad, result;
    // The reference only: the reduced value from the exact sum of the
    // element values, which the CPU kernels give (the CUDA kernels add a
    // float chunk in plain double first).
    T exact_result = T(-7);
};

// The reference: every element through the scalar formulas, which the
// CUDA kernels call (float logits through their double evaluation, the
// value before the rounding to float), the weight and the mean's 1/n
// applied to that double value as documented, one rounding to T; the sum
// exact (MPFR), rounded once to T, as the kernels' two-sum pair is
// (detail::rounded_sum), of the element values (double) or of the chunks'
// sums in plain double (float: 4 elements from a multiple of 4, added in
// index order).
// (The CPU kernels' SIMD paths compute the same formulas, but without a
// fused multiply-add on baseline x86-64 a bce on probabilities, or a
// double, may differ from the scalar path by a rounding there: the GPU has
// one.)
template <class T>
void reference(const loss_case& k, bool probabilities, const inputs<T>& in, std::size_t classes, outputs<T>& out) {
    const bool none = k.reduce == ll::reduction::none, mean = k.reduce == ll::reduction::mean;
    mpfr_t sum, chunks;
    mpfr_init2(sum, 4096);  // exact for these sums: values in [2^-1074, 2^20), n < 2^2000
    mpfr_init2(chunks, 4096);
    mpfr_set_zero(sum, 1);
    mpfr_set_zero(chunks, 1);
    constexpr std::size_t chunk_size = std::is_same<T, float>::value ? 4 : 1;
    double chunk = 0;
    for (std::size_t i = 0; i < k.n; ++i) {
        const T x = in.x.data[i], y = in.y.data[i];
        const T pw = classes == 0 ? T(1) : in.pw.data[i % classes];
        ll::value_and_grad<double> r{};
        if (probabilities) {
            const ll::value_and_grad<T> v = ll::bce_value_and_grad(x, y);
            r = {v.value, v.grad};
        } else if constexpr (std::is_same<T, float>::value) {
            r = classes == 0 ? ll::detail::wide_bce_with_logits_value_and_grad<true>{}(double(x), double(y), double(pw))
                             : ll::detail::wide_bce_with_logits_value_and_grad<false>{}(double(x), double(y), double(pw));
        } else {
            r = ll::bce_with_logits_value_and_grad(x, y, pw);
        }
        double v = r.value, g = r.grad;
        if (k.weight) {
            v *= static_cast<double>(in.w.data[i]);
            g *= static_cast<double>(in.w.data[i]);
        }
        if (mean) g = std::is_same<T, float>::value ? g * (1.0 / static_cast<double>(k.n)) : g / static_cast<double>(k.n);
        if (none) out.losses.data[i] = static_cast<T>(v);
        if (k.grad) out.grad.data[i] = static_cast<T>(g);
        mpfr_add_d(sum, sum, v, MPFR_RNDN);
        chunk = i % chunk_size == 0 ? v : chunk + v;
        if (i % chunk_size == chunk_size - 1 || i + 1 == k.n) mpfr_add_d(chunks, chunks, chunk, MPFR_RNDN);
    }
    const auto reduced = [&](mpfr_t total) {
        const T t = std::is_same<T, float>::value ? static_cast<T>(mpfr_get_flt(total, MPFR_RNDN))
                                                  : static_cast<T>(mpfr_get_d(total, MPFR_RNDN));
        return !mean ? t : k.n > 0 ? t / static_cast<T>(k.n) : std::numeric_limits<T>::quiet_NaN();
    };
    if (!none) {
        out.result.data[0] = reduced(chunks);
        out.exact_result = reduced(sum);
    }
    mpfr_clear(sum);
    mpfr_clear(chunks);
}

// For float logits the CPU kernels give the reference's bits as well: their
// SIMD float path is the scalar double evaluation, lane by lane.
void check_cpu_kernels(const loss_case& k, const inputs<float>& in, std::size_t classes, const outputs<float>& want) {
    outputs<float> cpu(k.n, 0);
    ll::options<float> o;
    o.reduce = k.reduce;
    o.check = false;  // negative weights
    if (k.weight) o.weight = ll::span<const float>(in.w.data, k.n);
    if (classes > 0) o.pos_weight = ll::span<const float>(in.pw.data, classes);
    if (k.reduce == ll::reduction::none) o.losses = ll::span<float>(cpu.losses.data, k.n);
    const float r = k.grad ? ll::bce_with_logits_forward_backward(in.x.data, in.y.data, k.n, cpu.grad.data, o)
                           : ll::bce_with_logits_forward(in.x.data, in.y.data, k.n, o);
    if (k.reduce != ll::reduction::none) cpu.result.data[0] = r;
    CHECK(first_difference(want.losses.data, cpu.losses.data, k.n) == -1);
    CHECK(first_difference(want.grad.data, cpu.grad.data, k.n) == -1);
    if (k.reduce != ll::reduction::none) CHECK(same_bits(want.exact_result, cpu.result.data[0]));
}

// One loss call on the emulated CUDA kernels, every output compared with
// the reference bit for bit, and nothing written that should not be.
template <class T>
void compare_loss(const loss_case& k, bool probabilities, std::uint64_t seed) {
    const inputs<T> in(k.n, k.offset, probabilities, seed);
    const std::size_t classes = k.pos_weight == 0 ? 0 : k.pos_weight == 1 ? 1 : classes_for(k.n);
    const bool none = k.reduce == ll::reduction::none;
    outputs<T> want(k.n, 0);
    reference(k, probabilities, in, classes, want);
    if constexpr (std::is_same<T, float>::value)
        if (!probabilities) check_cpu_kernels(k, in, classes, want);

    lc::options<T> go;
    go.reduce = to_cuda(k.reduce);
    go.weight = k.weight ? in.w.data : nullptr;
    go.pos_weight = classes > 0 ? in.pw.data : nullptr;
    go.pos_weight_size = classes;
    // With the inputs' offset: all aligned (the vector path) or none (the
    // scalar path), unless out_offset misaligns the outputs alone.
    outputs<T> got(k.n, k.out_offset < 0 ? k.offset : static_cast<std::size_t>(k.out_offset));
    if (none) go.losses = got.losses.data;
    else go.result = got.result.data;
    if (probabilities) {
        if (k.grad) lc::bce_forward_backward(in.x.data, in.y.data, k.n, got.grad.data, go);
        else lc::bce_forward(in.x.data, in.y.data, k.n, go);
    } else {
        if (k.grad) lc::bce_with_logits_forward_backward(in.x.data, in.y.data, k.n, got.grad.data, go);
        else lc::bce_with_logits_forward(in.x.data, in.y.data, k.n, go);
    }

    CAPTURE(k.n);
    CAPTURE(name_of(k.reduce));
    CAPTURE(k.grad);
    CAPTURE(k.weight);
    CAPTURE(classes);
    CAPTURE(k.offset);
    // Unwritten outputs keep their fill on both sides.
    CHECK(first_difference(want.losses.data, got.losses.data, k.n) == -1);
    CHECK(first_difference(want.grad.data, got.grad.data, k.n) == -1);
    CHECK(same_bits(want.result.data[0], got.result.data[0]));
    CHECK(same_bits(got.losses.storage.back(), T(-7)));  // nothing past the end
    CHECK(same_bits(got.grad.storage.back(), T(-7)));
    CHECK(emu::stats().live_allocations == 0);  // the workspace went back
}

template <class T>
void loss_grid(bool probabilities) {
    // Every combination of the options for sizes around a chunk (16 bytes)
    // and a block (256 chunks); fewer for several blocks, where each block
    // costs the emulation milliseconds.
    std::uint64_t seed = 1;
    const int pos_weights = probabilities ? 1 : 3;
    for (std::size_t n : {0u, 1u, 3u, 4u, 5u, 8u, 255u, 1000u, 4095u})
        for (ll::reduction r : {ll::reduction::none, ll::reduction::sum, ll::reduction::mean})
            for (bool grad : {false, true})
                for (bool weight : {false, true})
                    for (int pw = 0; pw < pos_weights; ++pw)
                        for (std::size_t offset : {0u, 1u}) {
                            // 4095 (7 classes): one value of pos_weight misaligned, the rest aligned.
                            if (n == 4095 && !probabilities && (offset == 1) != (pw == 1)) continue;
                            compare_loss<T>({n, r, grad, weight, pw, offset}, probabilities, ++seed);
                        }
    // The outputs alone misaligned: the scalar path for aligned inputs.
    compare_loss<T>({1000, ll::reduction::none, true, true, 0, 0, 1}, probabilities, ++seed);
    compare_loss<T>({1000, ll::reduction::mean, true, false, 0, 0, 1}, probabilities, ++seed);
    const std::size_t n = 65541;  // 65 or 129 blocks, 3 classes, a partial last chunk
    compare_loss<T>({n, ll::reduction::mean, true, true, probabilities ? 0 : 2, 0}, probabilities, ++seed);
    compare_loss<T>({n, ll::reduction::sum, false, false, probabilities ? 0 : 1, 1}, probabilities, ++seed);
    compare_loss<T>({n, ll::reduction::none, true, true, probabilities ? 0 : 2, 1}, probabilities, ++seed);
}

}  // namespace

TEST_CASE_TEMPLATE("cuda (emulated): bce_with_logits gives the scalar formulas' bits", T, float, double) {
    loss_grid<T>(false);
}

TEST_CASE_TEMPLATE("cuda (emulated): bce on probabilities gives the scalar formulas' bits", T, float, double) {
    loss_grid<T>(true);
}

TEST_CASE("cuda (emulated): a grid capped at max_blocks, each thread over several chunks") {
    // More chunks than max_blocks * block_threads: the grid-stride loop
    // gives every thread more than one chunk. float only (the loop is the
    // same for double; a capped grid costs the emulation seconds).
    using T = float;
    const std::size_t n = lc::impl::max_blocks * lc::impl::block_threads * lc::impl::pack<T>::size * 2 + 13;
    REQUIRE(lc::impl::grid_size<T>(n) == lc::impl::max_blocks);
    REQUIRE(lc::workspace_size<T>(n) == lc::impl::max_blocks * sizeof(lc::impl::partial_sum));
    REQUIRE(classes_for(n) == 7);
    compare_loss<T>({n, ll::reduction::mean, true, true, 2, 0}, false, 99);
}

TEST_CASE("cuda (emulated): finish_kernel keeps the low halves of more partials than threads") {
    // 1000 partial sums as the blocks leave them: hi a sum of losses of
    // either sign, lo the sum of its rounding errors (|lo| <= ulp(hi) / 2),
    // here all positive, so that together they move the total by many ulp.
    // The sum is well conditioned (sum |x| / |sum x| ~ 30), where the
    // two-sum merge is correctly rounded; one that dropped any lo, or any
    // partial past the first 256 (one per thread), is off.
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    std::vector<lc::impl::partial_sum> partials;
    mpfr_t exact;
    mpfr_init2(exact, 4096);
    mpfr_set_zero(exact, 1);
    for (int i = 0; i < 1000; ++i) {
        const double hi = 1000 * u(rng);
        const double ulp = std::nextafter(std::fabs(hi), INFINITY) - std::fabs(hi);
        const lc::impl::partial_sum p{hi, 0.5 * ulp * std::fabs(u(rng))};
        partials.push_back(p);
        mpfr_add_d(exact, exact, p.hi, MPFR_RNDN);
        mpfr_add_d(exact, exact, p.lo, MPFR_RNDN);
    }
    const double want = mpfr_get_d(exact, MPFR_RNDN);
    mpfr_clear(exact);
    double got = 0;
    emu::launch(lc::impl::finish_kernel<double>, 1, lc::impl::block_threads, nullptr, partials.data(),
                static_cast<unsigned>(partials.size()), std::size_t(1), false, &got);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    CHECK(same_bits(got, want));
    // The same partials without their low halves give another value: the
    // check above can fail.
    for (auto& p : partials) p.lo = 0;
    double without = 0;
    emu::launch(lc::impl::finish_kernel<double>, 1, lc::impl::block_threads, nullptr, partials.data(),
                static_cast<unsigned>(partials.size()), std::size_t(1), false, &without);
    CHECK(!same_bits(without, want));
}

TEST_CASE("cuda (emulated): the sum is reproducible and the workspace the caller's or the allocator's") {
    const std::size_t n = 40000;
    const inputs<float> in(n, 0, false, 5);
    buffer<float> shifted_x(n, 1), shifted_y(n, 1);
    std::memcpy(shifted_x.data, in.x.data, n * sizeof(float));
    std::memcpy(shifted_y.data, in.y.data, n * sizeof(float));
    lc::options<float> o;
    o.reduce = lc::reduction::sum;
    float a = 0, b = 0, c = 0, d = 0;
    o.result = &a;
    lc::bce_with_logits_forward(in.x.data, in.y.data, n, o);
    o.result = &b;
    lc::bce_with_logits_forward(shifted_x.data, shifted_y.data, n, o);  // the scalar path
    std::vector<unsigned char> workspace(lc::workspace_size<float>(n) + 16);
    auto* aligned = workspace.data() + (16 - reinterpret_cast<std::uintptr_t>(workspace.data()) % 16) % 16;
    o.workspace = aligned;
    o.workspace_bytes = lc::workspace_size<float>(n);
    o.result = &c;
    const long before = emu::stats().live_allocations;
    lc::bce_with_logits_forward(in.x.data, in.y.data, n, o);
    CHECK(emu::stats().live_allocations == before);
    o.result = &d;
    lc::bce_with_logits_forward(in.x.data, in.y.data, n, o);
    CHECK(same_bits(a, b));
    CHECK(same_bits(a, c));
    CHECK(same_bits(c, d));
    // And the order-independent value: the CPU kernels on 1 and on 2 threads.
    ll::options<float> co;
    co.reduce = ll::reduction::sum;
    CHECK(same_bits(a, ll::bce_with_logits_forward(in.x.data, in.y.data, n, co)));
    co.threads = 2;
    CHECK(same_bits(a, ll::bce_with_logits_forward(in.x.data, in.y.data, n, co)));

    o.workspace_bytes = lc::workspace_size<float>(n) - 1;
    CHECK_THROWS_WITH_AS(lc::bce_with_logits_forward(in.x.data, in.y.data, n, o),
                         doctest::Contains("options.workspace must be 16-byte aligned"), lc::error);
    o.workspace = aligned + 4;
    o.workspace_bytes = lc::workspace_size<float>(n);
    CHECK_THROWS_AS(lc::bce_with_logits_forward(in.x.data, in.y.data, n, o), lc::error);
}

TEST_CASE("cuda (emulated): a float chunk is added in plain double before the two-sum") {
    // Logits of magnitude >= 288 with target 0 lose exactly max(x, 0), and
    // a weight multiplies that exactly: element losses 512, 2^-44, 2^-15
    // and 0 in the first chunk, zeros in the second. The exact sum
    // 512 + 2^-15 + 2^-44 is a double just above the midpoint of two floats,
    // and the CPU kernels round it up to 512 + 2^-14. In the chunk,
    // 512 + 2^-44 is a tie in double and rounds to 512; the sum is then
    // 512 + 2^-15 exactly, the floats' midpoint, rounded to even, 512. Only
    // a sum this close to a rounding boundary differs.
    const float big = 512.f, tiny = std::ldexp(1.f, -53), mid = std::ldexp(1.f, -24);
    const float y[8] = {};
    const auto both = [&](const float* x, const float* w) {
        lc::options<float> o;
        o.reduce = lc::reduction::sum;
        o.weight = w;
        float gpu = 0.f;
        o.result = &gpu;
        lc::bce_with_logits_forward(x, y, 8, o);
        ll::options<float> co;
        co.reduce = ll::reduction::sum;
        co.weight = ll::span<const float>(w, 8);
        return std::make_pair(gpu, ll::bce_with_logits_forward(x, y, 8, co));
    };
    const float above = std::nextafter(big, 2 * big);
    const float split_x[] = {big, big, big, -big, -big, -big, -big, -big};
    const float split_w[] = {1.f, tiny, mid, 1.f, tiny, 1.f, 1.f, 1.f};
    const auto [gpu, cpu] = both(split_x, split_w);
    CHECK(same_bits(gpu, big));
    CHECK(same_bits(cpu, above));
    // With the two tiny losses in one chunk (their sum exact) the chunks'
    // sums are exact and the two agree.
    const float together_x[] = {big, big, -big, -big, big, big, -big, -big};
    const float together_w[] = {1.f, mid, 1.f, 1.f, tiny, tiny, 1.f, 1.f};
    const auto [gpu2, cpu2] = both(together_x, together_w);
    CHECK(same_bits(gpu2, above));
    CHECK(same_bits(cpu2, above));
    // Chunk sums 512 + 2^-15 and 2^-81: the pair holds 512 + 2^-15 + 2^-81
    // exactly, just above the floats' midpoint, and both round it once to
    // 512 + 2^-14 (through double, the 2^-81 would be lost and the tie go
    // to even, 512).
    const float far_x[] = {big, big, -big, -big, big, -big, -big, -big};
    const float far_w[] = {1.f, mid, 1.f, 1.f, std::ldexp(1.f, -90), 1.f, 1.f, 1.f};
    const auto [gpu3, cpu3] = both(far_x, far_w);
    CHECK(same_bits(gpu3, above));
    CHECK(same_bits(cpu3, above));
}

TEST_CASE("cuda (emulated): special values follow the CPU kernels") {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<std::vector<float>> logits = {{inf, 1.f}, {-inf, 0.f}, {nan, 1.f}, {inf, -inf},
                                                    {1e-45f, -1e-45f}, {88.8f, -104.f}};
    const std::vector<float> targets = {0.f, 1.f};
    for (const auto& x : logits) {
        for (ll::reduction r : {ll::reduction::sum, ll::reduction::mean, ll::reduction::none}) {
            ll::options<float> co;
            co.reduce = r;
            std::vector<float> cl(2, 0.f), cg(2), gl(2, 0.f), gg(2);
            if (r == ll::reduction::none) co.losses = ll::span<float>(cl.data(), 2);
            const float cpu = ll::bce_with_logits_forward_backward(x.data(), targets.data(), 2, cg.data(), co);
            lc::options<float> go;
            go.reduce = to_cuda(r);
            float result = 0.f;
            if (r == ll::reduction::none) go.losses = gl.data();
            else go.result = &result;
            lc::bce_with_logits_forward_backward(x.data(), targets.data(), 2, gg.data(), go);
            CAPTURE(x[0]);
            CAPTURE(x[1]);
            CAPTURE(name_of(r));
            if (r != ll::reduction::none) CHECK(same_bits(cpu, result));
            CHECK(first_difference(cl.data(), gl.data(), 2) == -1);
            CHECK(first_difference(cg.data(), gg.data(), 2) == -1);
        }
    }
    // A float sum beyond FLT_MAX: the sum inf, the mean in range (as the
    // CPU kernels).
    const std::vector<float> big = {3e38f, 3e38f}, zeros = {0.f, 0.f};
    for (ll::reduction r : {ll::reduction::sum, ll::reduction::mean}) {
        ll::options<float> co;
        co.reduce = r;
        lc::options<float> go;
        go.reduce = to_cuda(r);
        float result = 0.f;
        go.result = &result;
        lc::bce_with_logits_forward(big.data(), zeros.data(), 2, go);
        CHECK(same_bits(ll::bce_with_logits_forward(big.data(), zeros.data(), 2, co), result));
        CHECK((r == ll::reduction::sum ? std::isinf(result) : result == 3e38f));
    }
    // n = 0: the sum is 0, the mean NaN (as the CPU kernels, as torch).
    lc::options<double> o;
    double result = 1;
    o.result = &result;
    lc::bce_with_logits_forward<double>(nullptr, nullptr, 0, o);
    CHECK(std::isnan(result));
    o.reduce = lc::reduction::sum;
    lc::bce_with_logits_forward<double>(nullptr, nullptr, 0, o);
    CHECK(same_bits(result, 0.0));
}

TEST_CASE_TEMPLATE("cuda (emulated): sigmoid and sigmoid_backward", T, float, double) {
    for (std::size_t n : {1u, 4u, 7u, 1000u, 70001u}) {
        for (std::size_t offset : {0u, 1u}) {
            const inputs<T> in(n, offset, false, n + offset);
            buffer<T> out(n, offset), grad(n, offset);
            lc::sigmoid(in.x.data, n, out.data);
            lc::sigmoid_backward(in.x.data, in.w.data, n, grad.data);
            CAPTURE(n);
            CAPTURE(offset);
            long bad_value = -1, bad_grad = -1;
            for (std::size_t i = 0; i < n && (bad_value < 0 || bad_grad < 0); ++i) {
                const T x = in.x.data[i], g = in.w.data[i];
                if (bad_value < 0 && !same_bits(out.data[i], ll::sigmoid(x))) bad_value = static_cast<long>(i);
                if (bad_grad < 0 && !same_bits(grad.data[i], ll::sigmoid_backward(x, g))) bad_grad = static_cast<long>(i);
                // And against long double: the product g sigmoid(x) sigmoid(-x)
                // within a few ulp, and never 0 where the exact value is not.
                const long double xl = x, e = std::exp(-std::fabs(xl));
                const long double exact = static_cast<long double>(g) * e / ((1 + e) * (1 + e));
                const long double tolerance = 4 * std::numeric_limits<T>::epsilon() * std::fabs(exact) +
                                              std::numeric_limits<T>::denorm_min();
                if (bad_grad < 0 && !(std::fabs(static_cast<long double>(grad.data[i]) - exact) <= tolerance))
                    bad_grad = static_cast<long>(i);
            }
            CHECK(bad_value == -1);
            CHECK(bad_grad == -1);
        }
    }
    // In place, and the tail that 1 - sigmoid(x) loses: sigmoid'(20) ~ 2.1e-9.
    std::vector<T> x = {T(0), T(20), T(-20), T(40)}, g(4, T(1));
    lc::sigmoid_backward(x.data(), g.data(), 4, g.data());
    CHECK(g[0] == T(0.25));
    CHECK(g[1] > T(2e-9));
    CHECK(g[1] < T(2.1e-9));
    CHECK(same_bits(g[1], g[2]));
    CHECK(g[3] > T(0));
    lc::sigmoid(x.data(), 4, x.data());
    CHECK(x[0] == T(0.5));
    CHECK(x[2] > T(0));
    CHECK(x[2] < T(2.1e-9));
}

TEST_CASE_TEMPLATE("cuda (emulated): scale multiplies by a device scalar and skips a factor of 1", T, float, double) {
    const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
    for (std::size_t n : {1u, 4u, 7u, 1000u, 70001u}) {
        for (std::size_t offset : {0u, 1u}) {
            const inputs<T> in(n, offset, false, 3 * n + offset);
            for (const T f : {T(0.5), T(-3), T(1e-30), T(0), inf, nan, T(1)}) {
                CAPTURE(n);
                CAPTURE(offset);
                CAPTURE(f);
                buffer<T> data(n, offset);
                std::copy(in.x.data, in.x.data + n, data.data);
                const std::vector<T> factor(1, f);
                lc::scale(data.data, n, factor.data());
                long bad = -1;
                for (std::size_t i = 0; i < n && bad < 0; ++i)
                    if (!same_bits(data.data[i], in.x.data[i] * f)) bad = static_cast<long>(i);
                CHECK(bad == -1);
                // Nothing past the end is written.
                CHECK(same_bits(data.storage.back(), T(0)));
            }
        }
    }
    // A factor of 1 touches no element: a signaling NaN, which any
    // multiplication would make quiet, keeps its bits; a factor of 2 does
    // multiply it (the check can tell the two apart).
    const T signaling = std::numeric_limits<T>::signaling_NaN();
    std::vector<T> data(37, signaling);
    const std::vector<T> one(1, T(1)), two(1, T(2));
    lc::scale(data.data(), data.size(), one.data());
    for (const T v : data) CHECK(support::to_bits(v) == support::to_bits(signaling));
    lc::scale(data.data(), data.size(), two.data());
    CHECK(std::isnan(data[0]));
    CHECK(support::to_bits(data[0]) != support::to_bits(signaling));
    // n = 0 launches nothing; null pointers with n > 0 are errors.
    const long before = emu::stats().launches;
    lc::scale(static_cast<T*>(nullptr), 0, static_cast<const T*>(nullptr));
    CHECK(emu::stats().launches == before);
    CHECK_THROWS_WITH_AS(lc::scale(data.data(), 3, static_cast<const T*>(nullptr)),
                         doctest::Contains("data or factor pointer is null"), lc::error);
    CHECK_THROWS_AS(lc::scale(static_cast<T*>(nullptr), 3, one.data()), lc::error);
    emu::stats().fail_next_launch = true;
    CHECK_THROWS_WITH_AS(lc::scale(data.data(), 3, one.data()),
                         doctest::Contains("logitloss::cuda::scale: kernel launch failed"), lc::error);
}

TEST_CASE("cuda (emulated): check_inputs names the first bad value, as the CPU kernels") {
    const std::size_t n = 300000;  // several blocks, each thread over several elements
    inputs<float> in(n, 0, true, 11);
    for (std::size_t i = 0; i < n; ++i) in.w.data[i] = std::fabs(in.w.data[i]);  // valid weights
    // Bad values scattered over blocks, the smallest index not the first
    // one any thread meets.
    in.y.data[250000] = 2.f;
    in.w.data[123457] = -1.f;
    in.x.data[123457] = std::numeric_limits<float>::quiet_NaN();  // same index: the probability is named
    in.y.data[200000] = -0.5f;
    lc::options<float> go;
    go.weight = in.w.data;
    ll::options<float> co;
    co.weight = ll::span<const float>(in.w.data, n);
    std::string cpu_message;
    try {
        static_cast<void>(ll::bce_forward(in.x.data, in.y.data, n, co));
    } catch (const ll::error& e) {
        cpu_message = e.what();
        CHECK(e.index() == 123457);
    }
    CHECK(cpu_message.find("probability at index 123457 is nan") != std::string::npos);
    try {
        lc::check_inputs(lc::input_kind::probabilities, in.x.data, in.y.data, n, go);
        FAIL("check_inputs did not throw");
    } catch (const lc::error& e) {
        CHECK(e.index() == 123457);
        CHECK(e.code() == cudaErrorInvalidValue);
        CHECK(std::string(e.what()) ==
              "logitloss::cuda::check_inputs: probability at index 123457 is nan, must be in [0, 1]");
    }
    // With the probability fixed, the weight at the same index; then the target.
    in.x.data[123457] = 0.5f;
    CHECK_THROWS_WITH_AS(lc::check_inputs(lc::input_kind::probabilities, in.x.data, in.y.data, n, go),
                         "logitloss::cuda::check_inputs: weight at index 123457 is -1, must be finite and >= 0", lc::error);
    in.w.data[123457] = 1.f;
    // An infinite weight is refused too (inf * 0 would be NaN), at its index.
    const float w300 = in.w.data[300];
    in.w.data[300] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH_AS(lc::check_inputs(lc::input_kind::probabilities, in.x.data, in.y.data, n, go),
                         "logitloss::cuda::check_inputs: weight at index 300 is inf, must be finite and >= 0", lc::error);
    in.w.data[300] = w300;
    CHECK_THROWS_WITH_AS(lc::check_inputs(lc::input_kind::probabilities, in.x.data, in.y.data, n, go),
                         "logitloss::cuda::check_inputs: target at index 200000 is -0.5, must be in [0, 1]",
                         lc::error);
    // Logits are not checked; pos_weight first, whatever the elements.
    in.x.data[5] = std::numeric_limits<float>::infinity();
    go.pos_weight = in.pw.data;
    go.pos_weight_size = 5;
    in.pw.data[3] = -2.f;
    in.pw.data[4] = -3.f;
    try {
        lc::check_inputs(lc::input_kind::logits, in.x.data, in.y.data, n, go);
        FAIL("check_inputs did not throw");
    } catch (const lc::error& e) {
        CHECK(e.index() == 3);
        CHECK(std::string(e.what()).find("pos_weight at index 3 is -2,") != std::string::npos);
    }
    in.pw.data[3] = in.pw.data[4] = 1.f;
    in.y.data[200000] = in.y.data[250000] = 1.f;
    CHECK_NOTHROW(lc::check_inputs(lc::input_kind::logits, in.x.data, in.y.data, n, go));
    // A scratch of the caller's: nothing allocated.
    unsigned long long scratch[2];
    in.pw.data[4] = -3.f;
    CHECK_THROWS_WITH_AS(lc::check_inputs(lc::input_kind::logits, in.x.data, in.y.data, n, go, nullptr, scratch),
                         doctest::Contains("pos_weight at index 4 is -3,"), lc::error);
    CHECK(emu::stats().live_allocations == 0);
    // More classes than elements (n = 0): the classes are still checked.
    CHECK_THROWS_WITH_AS(lc::check_inputs(lc::input_kind::logits, in.x.data, in.y.data, 0, go),
                         doctest::Contains("pos_weight at index 4"), lc::error);
    in.pw.data[4] = 1.f;
    CHECK_NOTHROW(lc::check_inputs(lc::input_kind::logits, in.x.data, in.y.data, 0, go));
    // find_invalid alone leaves the encoded answer: none.
    in.x.data[5] = 0.5f;
    unsigned long long first[2] = {0, 0};
    lc::find_invalid(lc::input_kind::probabilities, in.x.data, in.y.data, n, go, first);
    CHECK(first[0] == ~0ull);
    CHECK(first[1] == ~0ull);
    CHECK(emu::stats().live_allocations == 0);
}

// The checks read 16-byte chunks: vector loads where every array is
// aligned, element loads otherwise and in a last partial chunk. Each path
// names the same first bad element.
template <class T>
void check_chunk_paths(std::size_t offset) {
    CAPTURE(sizeof(T));
    CAPTURE(offset);
    const std::size_t m = 1001;  // whole chunks, then a partial one
    std::vector<T> p(m + offset, T(0.5)), y(m + offset, T(1)), w(m + offset, T(2));
    T* pp = p.data() + offset;
    T* yy = y.data() + offset;
    T* ww = w.data() + offset;
    lc::options<T> o;
    o.weight = ww;
    const auto message = [&] {
        try {
            lc::check_inputs(lc::input_kind::probabilities, pp, yy, m, o);
        } catch (const lc::error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message() == "no error");
    yy[1000] = T(3);  // the partial chunk
    CHECK(message().find("target at index 1000 is 3,") != std::string::npos);
    ww[999] = T(-1);
    CHECK(message().find("weight at index 999 is -1,") != std::string::npos);
    pp[999] = T(2);  // the same index: the probability comes first
    CHECK(message().find("probability at index 999 is 2,") != std::string::npos);
    yy[997] = std::numeric_limits<T>::quiet_NaN();  // earlier in the chunk of 999 (float: 996 .. 999)
    CHECK(message().find("target at index 997 is nan,") != std::string::npos);
    ww[4] = std::numeric_limits<T>::infinity();  // and an early chunk before all of them
    CHECK(message().find("weight at index 4 is inf,") != std::string::npos);
    CHECK(emu::stats().live_allocations == 0);
}

TEST_CASE("cuda (emulated): check_inputs on aligned and unaligned arrays, float and double") {
    for (const std::size_t offset : {std::size_t(0), std::size_t(1)}) {
        check_chunk_paths<float>(offset);
        check_chunk_paths<double>(offset);
    }
}

TEST_CASE("cuda (emulated): bad arguments and a failed allocation are errors, nothing leaks") {
    std::vector<float> x(12, 0.f), y(12, 1.f), g(12);
    lc::options<float> o;
    float result = 0.f;
    o.result = &result;
    const auto throws = [&](const lc::options<float>& opt, const char* what) {
        CHECK_THROWS_WITH_AS(lc::bce_with_logits_forward_backward(x.data(), y.data(), 12, g.data(), opt),
                             doctest::Contains(what), lc::error);
    };
    lc::options<float> a = o;
    a.result = nullptr;
    throws(a, "need options.result");
    lc::options<float> b = o;
    b.pos_weight = x.data();
    b.pos_weight_size = 5;
    throws(b, "pos_weight has 5 elements, which does not divide n = 12");
    lc::options<float> c = o;
    c.losses = g.data();
    throws(c, "options.losses is only written with reduction::none");
    lc::options<float> d;
    d.reduce = lc::reduction::none;
    throws(d, "reduction::none needs options.losses");
    CHECK_THROWS_WITH_AS(lc::bce_with_logits_forward_backward(x.data(), y.data(), 12, static_cast<float*>(nullptr), o),
                         doctest::Contains("gradient pointer is null"), lc::error);
    CHECK_THROWS_WITH_AS(lc::bce_forward_backward(x.data(), y.data(), 12, g.data(), b),
                         doctest::Contains("pos_weight applies to bce_with_logits only"), lc::error);
    CHECK_THROWS_AS(lc::sigmoid_backward(x.data(), static_cast<const float*>(nullptr), 12, g.data()), lc::error);
    CHECK_THROWS_WITH_AS(lc::sigmoid(x.data(), 12, static_cast<float*>(nullptr)),
                         doctest::Contains("input or output pointer is null"), lc::error);
    CHECK_THROWS_WITH_AS(lc::bce_with_logits_forward(static_cast<const float*>(nullptr), y.data(), 12, o),
                         doctest::Contains("input or target pointer is null"), lc::error);
    lc::options<float> only_pointer = o;
    only_pointer.pos_weight = x.data();
    throws(only_pointer, "pos_weight and pos_weight_size must be given together");
    lc::options<float> only_size = o;
    only_size.pos_weight_size = 3;
    throws(only_size, "pos_weight and pos_weight_size must be given together");

    emu::stats().fail_next_allocation = true;
    try {
        lc::bce_with_logits_forward(x.data(), y.data(), 12, o);
        FAIL("no error");
    } catch (const lc::error& e) {
        CHECK(e.code() == cudaErrorMemoryAllocation);
        CHECK(std::string(e.what()).find("cudaMallocAsync of the workspace failed: cudaErrorMemoryAllocation") !=
              std::string::npos);
    }
    // A failed call is not reported again by the next, valid one (the
    // runtime's last error is cleared when the error is thrown).
    CHECK_NOTHROW(lc::bce_with_logits_forward(x.data(), y.data(), 12, o));
    CHECK(cudaGetLastError() == cudaSuccess);
    emu::stats().fail_next_allocation = true;
    CHECK_THROWS_AS(lc::check_inputs(lc::input_kind::logits, x.data(), y.data(), 12, o), lc::error);
    CHECK(emu::stats().live_allocations == 0);
    CHECK_NOTHROW(lc::check_inputs(lc::input_kind::logits, x.data(), y.data(), 12, o));

    // Failed launches: the loss kernel (its workspace is freed), the map
    // kernels, and the value check inside check_inputs (its scratch freed).
    emu::stats().fail_next_launch = true;
    CHECK_THROWS_WITH_AS(lc::bce_with_logits_forward(x.data(), y.data(), 12, o),
                         "logitloss::cuda::bce_with_logits_forward: kernel launch failed: cudaErrorLaunchFailure "
                         "(unspecified launch failure)",
                         lc::error);
    emu::stats().fail_next_launch = true;
    CHECK_THROWS_AS(lc::sigmoid(x.data(), 12, g.data()), lc::error);
    emu::stats().fail_next_launch = true;
    CHECK_THROWS_AS(lc::check_inputs(lc::input_kind::logits, x.data(), y.data(), 12, o), lc::error);
    CHECK(emu::stats().live_allocations == 0);
    CHECK_NOTHROW(lc::bce_with_logits_forward(x.data(), y.data(), 12, o));
    CHECK(result == doctest::Approx(0.6931472));  // log 2
}

TEST_CASE("cuda (emulated): the emulation rejects what CUDA rejects") {
    // An empty grid is an invalid configuration in CUDA; the kernels never
    // launch one (n = 0 launches nothing), and the emulation reports it.
    const long before = emu::stats().launches;
    lc::sigmoid<float>(nullptr, 0, nullptr);
    CHECK(emu::stats().launches == before);
    emu::launch(lc::impl::finish_kernel<float>, 0, lc::impl::block_threads, nullptr, nullptr, 0u, std::size_t(0),
                false, nullptr);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CHECK(cudaGetLastError() == cudaSuccess);
}
