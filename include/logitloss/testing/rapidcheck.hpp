// logitloss/testing/rapidcheck.hpp — rapidcheck generators for property tests
// over logit ranges: logits that land where loss code breaks, targets hard
// and soft, probabilities, and batches of arrays at every alignment. Needs
// rapidcheck (Debian `librapidcheck-dev`; CMake `find_package(rapidcheck)`,
// target `rapidcheck`).
//
//   namespace lg = logitloss::testing::gen;
//   rc::check("my loss is non-negative", [] {
//       const float x = *lg::logit<float>(), y = *lg::target<float>();
//       RC_ASSERT(!(my_loss(x, y) < 0.f));
//   });
//
// Every generator shrinks: a failing logit toward +0 (uniform bit
// patterns), toward the low end of its named range, or toward the threshold
// itself; a batch toward fewer, simpler elements at offset 0.
#pragma once

#include <rapidcheck.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <ostream>
#include <utility>
#include <vector>

#include "../testing.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace testing {

// A logit batch as the array kernels see it: n logits and n targets that
// start `offset` elements past a 64-byte boundary (the width of the widest
// SIMD register), so that a kernel meets every misalignment and every tail
// length. Copyable and printable; data() pointers stay valid while the
// batch lives.
template <class T>
class batch {
public:
    static constexpr std::size_t alignment = 64;

    batch() = default;
    batch(std::vector<T> logits, std::vector<T> targets, std::size_t offset)
        : logits_(std::move(logits)), targets_(std::move(targets)), offset_(offset) {
        place();
    }
    batch(const batch& o) : batch(o.logits_, o.targets_, o.offset_) {}
    batch& operator=(const batch& o) {
        if (this != &o) *this = batch(o);
        return *this;
    }
    batch(batch&&) noexcept = default;
    batch& operator=(batch&&) noexcept = default;

    [[nodiscard]] std::size_t size() const noexcept { return logits_.size(); }
    [[nodiscard]] std::size_t offset() const noexcept { return offset_; }
    // The arrays at their offset from an aligned address.
    [[nodiscard]] const T* logits() const noexcept { return x_; }
    [[nodiscard]] const T* targets() const noexcept { return y_; }
    // The same values as plain vectors.
    [[nodiscard]] const std::vector<T>& logit_values() const noexcept { return logits_; }
    [[nodiscard]] const std::vector<T>& target_values() const noexcept { return targets_; }

private:
    struct free_deleter {
        void operator()(T* p) const noexcept { std::free(p); }
    };
    using storage = std::unique_ptr<T, free_deleter>;

    // One aligned allocation per array, rounded up to the alignment.
    static storage aligned_copy(const std::vector<T>& v, std::size_t offset, T*& at) {
        const std::size_t bytes = ((offset + v.size()) * sizeof(T) + alignment) / alignment * alignment;
        storage s(static_cast<T*>(std::aligned_alloc(alignment, bytes)));
        if (!s) throw std::bad_alloc();
        at = s.get() + offset;
        for (std::size_t i = 0; i < v.size(); ++i) at[i] = v[i];
        return s;
    }
    void place() {
        xs_ = aligned_copy(logits_, offset_, x_);
        ys_ = aligned_copy(targets_, offset_, y_);
    }

    std::vector<T> logits_, targets_;
    std::size_t offset_ = 0;
    storage xs_, ys_;
    T* x_ = nullptr;
    T* y_ = nullptr;
};

// Prints a batch exactly (hexadecimal floating point), for counterexamples.
template <class T>
void showValue(const batch<T>& b, std::ostream& os) {
    const auto flags = os.flags();
    os << "batch{n = " << b.size() << ", offset = " << b.offset() << ", (logit, target) = [" << std::hexfloat;
    for (std::size_t i = 0; i < b.size(); ++i)
        os << (i ? ", " : "") << '(' << b.logit_values()[i] << ", " << b.target_values()[i] << ')';
    os << "]}";
    os.flags(flags);
}

namespace gen {
namespace detail {

using testing::detail::from_bits;
using testing::detail::line_position;

// size-independent: rapidcheck scales integer ranges with the test's size,
// which would keep early cases near the low end; these span the whole range
// from the first case.
template <class I>
rc::Gen<I> whole_range(I lo, I hi_exclusive) {
    return rc::gen::resize(100, rc::gen::inRange<I>(lo, hi_exclusive));
}

// The value of T at a position on the line of testing.hpp (+-0 at the
// middle; positions of -0 and +0 coincide and give +0).
template <class T>
T at_position(bits_t<T> p) noexcept {
    constexpr bits_t<T> sign = bits_t<T>(1) << (sizeof(T) * 8 - 1);
    return p >= sign ? from_bits<T>(bits_t<T>(p - sign)) : from_bits<T>(bits_t<T>(sign | (sign - p)));
}

// Every value of T in r, uniform over the representable values; shrinks
// toward r.lo.
template <class T>
rc::Gen<T> in_range(range<T> r) {
    const bits_t<T> lo = line_position(r.lo), hi = line_position(r.hi);
    if (lo == hi) return rc::gen::just(r.lo);
    // inRange's upper bound is exclusive; hi < max of bits_t for any finite hi.
    return rc::gen::map(whole_range<bits_t<T>>(lo, bits_t<T>(hi + 1)), [](bits_t<T> p) { return at_position<T>(p); });
}

// Offsets -64 ... 64 that shrink toward 0: k = 0, 1, 2, 3, ... gives
// 0, -1, 1, -2, ...
inline rc::Gen<int> ulp_offset() {
    return rc::gen::map(whole_range<int>(0, 129), [](int k) { return k % 2 ? -(k + 1) / 2 : k / 2; });
}

// v moved by k representable steps (saturating at the infinities).
template <class T>
T step(T v, int k) noexcept {
    for (; k > 0; --k) v = std::nextafter(v, std::numeric_limits<T>::infinity());
    for (; k < 0; ++k) v = std::nextafter(v, -std::numeric_limits<T>::infinity());
    return v;
}

}  // namespace detail

// Any bit pattern of T (NaNs included); shrinks toward +0.
template <class T>
rc::Gen<T> bit_pattern() {
    using B = bits_t<T>;
    if constexpr (sizeof(T) == 4) {
        return rc::gen::map(detail::whole_range<std::uint64_t>(0, std::uint64_t(1) << 32),
                            [](std::uint64_t b) { return detail::from_bits<T>(static_cast<B>(b)); });
    } else {
        // Two halves: inRange cannot span all of uint64_t.
        return rc::gen::map(rc::gen::pair(detail::whole_range<std::uint64_t>(0, std::uint64_t(1) << 32),
                                          detail::whole_range<std::uint64_t>(0, std::uint64_t(1) << 32)),
                            [](const std::pair<std::uint64_t, std::uint64_t>& h) {
                                return detail::from_bits<T>(static_cast<B>((h.first << 32) | h.second));
                            });
    }
}

// A value of T uniform over the representable values of one of the named
// ranges of testing.hpp (ranges<T>).
template <class T>
rc::Gen<T> in_named_range() {
    using R = ranges<T>;
    return rc::gen::oneOf(detail::in_range(R::linear), detail::in_range(R::saturated_negative),
                          detail::in_range(R::subnormal_result), detail::in_range(R::naive_overflow),
                          detail::in_range(R::naive_saturated), detail::in_range(R::saturated_positive),
                          detail::in_range(R::subnormal_input));
}

// A threshold of T (threshold_values<T>()) moved by -64 ... 64 ulps.
template <class T>
rc::Gen<T> near_threshold() {
    const auto th = threshold_values<T>();
    return rc::gen::map(rc::gen::pair(rc::gen::elementOf(th), detail::ulp_offset()),
                        [](const std::pair<T, int>& p) { return detail::step(p.first, p.second); });
}

// A special value of T (special_values<T>(): zeros, infinities, NaN, the
// extremes of the normal and subnormal ranges).
template <class T>
rc::Gen<T> special() {
    return rc::gen::elementOf(special_values<T>());
}

// Logits where loss code breaks: a mix of the named ranges (3 parts in 9),
// uniform bit patterns (3), the thresholds +-64 ulps (2) and the special
// values (1). NaN occurs (bit patterns and specials): use finite_logit or
// RC_PRE where a property does not hold for it.
template <class T>
rc::Gen<T> logit() {
    return rc::gen::weightedOneOf<T>(
        {{3, in_named_range<T>()}, {3, bit_pattern<T>()}, {2, near_threshold<T>()}, {1, special<T>()}});
}

// logit<T>() without NaN and the infinities.
template <class T>
rc::Gen<T> finite_logit() {
    return rc::gen::suchThat(logit<T>(), [](T x) { return std::isfinite(x); });
}

// A value of T in [0, 1]: half of them uniform over the representable values
// (mostly tiny), half uniform in value (multiples of 2^-digits); shrinks
// toward 0.
template <class T>
rc::Gen<T> unit_interval() {
    constexpr int digits = std::numeric_limits<T>::digits;
    return rc::gen::oneOf(detail::in_range(range<T>{T(0), T(1)}),
                          rc::gen::map(detail::whole_range<std::uint64_t>(0, (std::uint64_t(1) << digits) + 1),
                                       [](std::uint64_t k) { return std::ldexp(static_cast<T>(k), -digits); }));
}

// A target: hard (0 or 1) half of the time, soft (unit_interval) otherwise.
template <class T>
rc::Gen<T> target() {
    return rc::gen::oneOf(rc::gen::element(T(0), T(1)), unit_interval<T>());
}

// A probability for bce: 0, 1 and their neighbours a quarter of the time,
// unit_interval otherwise.
template <class T>
rc::Gen<T> probability() {
    const T below_one = std::nextafter(T(1), T(0)), tiny = std::numeric_limits<T>::denorm_min();
    return rc::gen::weightedOneOf<T>({{1, rc::gen::element(T(0), T(1), below_one, tiny)}, {3, unit_interval<T>()}});
}

// A batch of logit<T>() and target<T>() pairs, 0 ... max_size long (mostly
// short: 0-64 half of the time, up to 1024 a quarter, up to max_size the
// rest), at an offset of 0 ... 15 elements from a 64-byte boundary.
// Shrinks by removing elements, then toward simpler values and offset 0.
template <class T>
rc::Gen<batch<T>> make_batch(rc::Gen<T> logits, rc::Gen<T> targets, std::size_t max_size = 10000) {
    using pairs = std::vector<std::pair<T, T>>;
    // rapidcheck's container: length uniform in [0, size], shrinking by removal.
    auto up_to = [&](std::size_t n) {
        return rc::gen::resize(static_cast<int>(n), rc::gen::container<pairs>(rc::gen::pair(logits, targets)));
    };
    auto elements = rc::gen::weightedOneOf<pairs>(
        {{2, up_to(std::min<std::size_t>(64, max_size))}, {1, up_to(std::min<std::size_t>(1024, max_size))}, {1, up_to(max_size)}});
    return rc::gen::map(rc::gen::pair(elements, detail::whole_range<std::size_t>(0, 16)),
                        [](const std::pair<pairs, std::size_t>& v) {
                            std::vector<T> x(v.first.size()), y(v.first.size());
                            for (std::size_t i = 0; i < v.first.size(); ++i) {
                                x[i] = v.first[i].first;
                                y[i] = v.first[i].second;
                            }
                            return batch<T>(std::move(x), std::move(y), v.second);
                        });
}

// make_batch of finite logits (logit<T>() without NaN and infinities; a
// sum over a batch holding NaN is NaN) and target<T>() targets.
template <class T>
rc::Gen<batch<T>> batch_of(std::size_t max_size = 10000) {
    return make_batch<T>(finite_logit<T>(), target<T>(), max_size);
}

}  // namespace gen
}  // namespace testing
LOGITLOSS_NAMESPACE_END
