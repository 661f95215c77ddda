// fuzz/fuzz_array.cpp — libFuzzer target for the array layer: the loss
// kernels (bce_with_logits_forward[_backward], bce_forward[_backward]) and the
// array maps (sigmoid, softplus, log_sigmoid, and the binary map
// sigmoid_backward, whose second input is grad_out), through the header templates
// (xsimd::default_arch of this build) and through logitloss::dispatch on a
// path chosen by the input. Built with ASan and UBSan (fuzz/run).
//
// Input layout: a 27-byte header (decoded below, missing bytes read as 0) and
// a payload from which the element values are drawn; past its end the values
// come from a generator seeded by the header. fuzz/make_corpus.py writes the
// same layout: keep the two in step.
//
//   0  element type (bit 0: double)          13 threads (% 3: 1, 2, 0)
//   1  function (% 8, see fn_id)             14 check (% 4 == 3: off)
//   2  n mode    3-4 n parameter (u16 LE)    15 dispatch path (index % count)
//   5  reduction (% 3: none, sum, mean)      16-21 element offsets (% 16) of
//   6  weight mode    7 its parameter              x, y, grad/out, losses,
//   8  pos_weight mode 9 its parameter             weight, pos_weight
//  10  losses mode   11 its parameter        22 value modes (2 bits each:
//  12  flags: bits 5-7 all set -> bits 0-2          x, y, weight, pos_weight)
//      make x, y, grad/out null; bit 3: map   23 sprinkle index
//      in place; bit 4: no guard after        24 sprinkle kind (bits 0-2, 0 off)
//      the outputs (ASan bounds only);           and array (bits 3-4)
//      sigmoid_backward in place: bit 0      25 generator seed  26 probe index
//      overwrites grad_out (y), not x
// (y is the targets of the losses and grad_out of sigmoid_backward.)
//
// Oracles (any violation prints the decoded case and aborts):
//  - ASan / UBSan reports; an uncaught exception other than logitloss::error;
//  - every output region lies between guard elements holding a canary bit
//    pattern (a signalling NaN no arithmetic produces): the guards never
//    change; on success every output element has been written; when
//    logitloss::error is thrown the whole region is bit-identical to before;
//  - inputs are never modified;
//  - the error (or its absence) is the one the documented rules predict
//    (expected_error below), kind and index, for templates and dispatch;
//  - without error, on valid inputs: templates and dispatch agree within
//    kUlps ulp (README: every function within 1-4 ulp of the correctly
//    rounded result on every path; see `close`); the two FMA paths agree bit
//    for bit (dispatch.hpp); an element's value does not depend on its
//    position (kernels.hpp: single-element calls give the same bits); a map
//    in place gives the out-of-place bits; reduction::none returns 0; and
//    for arrays long enough to use threads, every thread count gives the
//    same bits as one.
#include <logitloss/dispatch.hpp>
#include <logitloss/kernels.hpp>
#include <logitloss/testing.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <vector>

namespace ll = logitloss;
namespace dp = logitloss::dispatch;

namespace {

constexpr std::size_t header_size = 27;
constexpr std::size_t max_small_n = 4096;
constexpr std::size_t block = std::size_t(1) << 14;  // kernels.hpp block_size
// Bound on the distance between two paths' results, in units in the last
// place: each is within 4 ulp of the exact value (soft targets; 1-2 ulp for
// the rest), and weights, the mean and sums add a few roundings.
constexpr std::int64_t kUlps = 16;

enum class fn_id { logits_fwd, logits_fwdbwd, bce_fwd, bce_fwdbwd, sigmoid, softplus, log_sigmoid, sigmoid_backward };
constexpr int fn_count = 8;
const char* const fn_names[fn_count] = {"bce_with_logits_forward",
                                        "bce_with_logits_forward_backward",
                                        "bce_forward",
                                        "bce_forward_backward",
                                        "sigmoid",
                                        "softplus",
                                        "log_sigmoid",
                                        "sigmoid_backward"};
const char* const kind_names[] = {"null_pointer",        "size_mismatch",           "missing_output",
                                  "target_out_of_range", "probability_out_of_range", "negative_weight",
                                  "negative_pos_weight"};

// Maps take no options and write out[i] from element i of their inputs: x,
// and for the binary map (sigmoid_backward) also y (grad_out).
bool is_binary_map(fn_id f) { return f == fn_id::sigmoid_backward; }
bool is_map(fn_id f) {
    return f == fn_id::sigmoid || f == fn_id::softplus || f == fn_id::log_sigmoid || is_binary_map(f);
}
bool wants_grad(fn_id f) { return f == fn_id::logits_fwdbwd || f == fn_id::bce_fwdbwd; }
bool on_probabilities(fn_id f) { return f == fn_id::bce_fwd || f == fn_id::bce_fwdbwd; }

// ---- bits -----------------------------------------------------------------

using logitloss::testing::bits_t;
using logitloss::testing::ulp_distance;

template <class T>
bits_t<T> to_bits(T v) {
    return logitloss::testing::detail::bits_of(v);
}
template <class T>
T from_bits(bits_t<T> b) {
    return logitloss::testing::detail::from_bits<T>(b);
}

// A signalling NaN: arithmetic only ever returns quiet NaNs, so an output
// element still holding it after a successful call was not written.
template <class T>
bits_t<T> canary() {
    if constexpr (sizeof(T) == 4) {
        return 0x7FA5A5A5u;
    } else {
        return 0x7FF4A5A5A5A5A5A5ull;
    }
}

template <class T>
bool same_bits(T a, T b) {
    return (std::isnan(a) && std::isnan(b)) || to_bits(a) == to_bits(b);
}

// Two paths' results: both NaN, or within kUlps, or within abs_tol (for
// gradients, whose formula subtracts two terms; see the caller).
template <class T>
bool close(T a, T b, double abs_tol) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (a == b) return true;
    if (std::fabs(static_cast<double>(a) - static_cast<double>(b)) <= abs_tol) return true;
    return ulp_distance(a, b) <= static_cast<std::uint64_t>(kUlps);
}

// ---- the case being run, for messages ----------------------------------

std::string g_case;  // one line describing the decoded input

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "\n==== logitloss fuzz finding: %s\n==== case: %s\n", what.c_str(), g_case.c_str());
    std::fflush(stderr);
    std::abort();
}

// ---- guarded regions -------------------------------------------------------

// `len` elements at element offset `lead` from a 64-byte aligned allocation,
// followed by `trail` guard elements; the allocation ends where the region
// (or its trailing guard) ends, so ASan sees any access beyond.
template <class T>
class region {
public:
    region() = default;
    region(std::size_t len, std::size_t lead, std::size_t trail) : len_(len), lead_(lead), trail_(trail) {
        total_ = lead + len + trail;
        raw_ = static_cast<T*>(::operator new(std::max<std::size_t>(total_, 1) * sizeof(T), std::align_val_t(64)));
        fill_canary();
    }
    region(const region&) = delete;
    region& operator=(const region&) = delete;
    region(region&& o) noexcept { swap(o); }
    region& operator=(region&& o) noexcept {
        swap(o);
        return *this;
    }
    ~region() {
        if (raw_ != nullptr) ::operator delete(raw_, std::align_val_t(64));
    }

    [[nodiscard]] bool allocated() const { return raw_ != nullptr; }
    [[nodiscard]] T* data() const { return raw_ + lead_; }
    [[nodiscard]] std::size_t size() const { return len_; }
    T& operator[](std::size_t i) const { return raw_[lead_ + i]; }

    void fill_canary() {
        for (std::size_t i = 0; i < total_; ++i) raw_[i] = from_bits<T>(canary<T>());
    }
    [[nodiscard]] std::vector<unsigned char> snapshot() const {
        std::vector<unsigned char> s(total_ * sizeof(T));
        if (total_ > 0) std::memcpy(s.data(), raw_, s.size());
        return s;
    }
    [[nodiscard]] bool unchanged(const std::vector<unsigned char>& s) const {
        return s.size() == total_ * sizeof(T) && (total_ == 0 || std::memcmp(s.data(), raw_, s.size()) == 0);
    }
    // Index (in the allocation) of the first guard element that changed, or -1.
    [[nodiscard]] long broken_guard() const {
        for (std::size_t i = 0; i < total_; ++i) {
            if (i >= lead_ && i < lead_ + len_) continue;
            if (to_bits(raw_[i]) != canary<T>()) return static_cast<long>(i);
        }
        return -1;
    }
    // First element of the region still holding the canary, or -1.
    [[nodiscard]] long unwritten() const {
        for (std::size_t i = 0; i < len_; ++i)
            if (to_bits((*this)[i]) == canary<T>()) return static_cast<long>(i);
        return -1;
    }

private:
    void swap(region& o) noexcept {
        std::swap(raw_, o.raw_);
        std::swap(len_, o.len_);
        std::swap(lead_, o.lead_);
        std::swap(trail_, o.trail_);
        std::swap(total_, o.total_);
    }
    T* raw_ = nullptr;
    std::size_t len_ = 0, lead_ = 0, trail_ = 0, total_ = 0;
};

// ---- decoding --------------------------------------------------------------

// The payload, then a splitmix64 stream once it is used up.
class value_source {
public:
    value_source(const std::uint8_t* p, std::size_t n, std::uint64_t seed) : p_(p), n_(n), state_(seed) {}
    std::uint8_t byte() {
        if (pos_ < n_) return p_[pos_++];
        if (left_ == 0) {
            std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            word_ = z ^ (z >> 31);
            left_ = 8;
        }
        --left_;
        const auto b = static_cast<std::uint8_t>(word_ & 0xFF);
        word_ >>= 8;
        return b;
    }

private:
    const std::uint8_t* p_;
    std::size_t n_, pos_ = 0;
    std::uint64_t state_, word_ = 0;
    int left_ = 0;
};

enum class role { logit, unit, nonneg };

template <class T>
T special_logit(unsigned k) {
    using L = std::numeric_limits<T>;
    const T table[32] = {T(0),
                         -T(0),
                         T(1),
                         T(-1),
                         L::infinity(),
                         -L::infinity(),
                         L::quiet_NaN(),
                         L::max(),
                         -L::max(),
                         L::min(),
                         -L::min(),
                         L::denorm_min(),
                         -L::denorm_min(),
                         L::epsilon(),
                         -L::epsilon(),
                         T(0.5),
                         T(88.72284),    // float e^x overflow
                         T(-87.33655),   // float e^x turns subnormal
                         T(-103.27893),  // float e^x underflows
                         T(16.635532),   // float sigmoid rounds to 1
                         T(-16.635532),
                         T(709.782712893384),  // double e^x overflow
                         T(-708.3964185322641),
                         T(-745.1332191019412),
                         T(36.7368005696771),  // double sigmoid rounds to 1
                         T(-36.7368005696771),
                         T(1e-20),
                         T(-1e-20),
                         T(1e30),
                         T(-1e30),
                         T(20),
                         T(-20)};
    return table[k % 32];
}

// A value for `r` in value mode `m` (0: spread over the valid range with
// special values, 1: hard or small values, 2: raw bits, 3: as 0 with one
// element in 16 invalid).
template <class T>
T draw(value_source& src, role r, unsigned m) {
    using L = std::numeric_limits<T>;
    if (m == 2) {
        bits_t<T> b = 0;
        for (std::size_t k = 0; k < sizeof(T); ++k) b |= static_cast<bits_t<T>>(src.byte()) << (8 * k);
        return from_bits<T>(b);
    }
    const unsigned b = src.byte();
    if (m == 3 && b < 16) {
        // Out of the domain of the role (logits have none: special values).
        const T bad_unit[8] = {L::quiet_NaN(), T(-1),          T(1.5),  -L::denorm_min(),
                               L::infinity(),  -L::infinity(), T(-0.25), T(2)};
        const T bad_nonneg[4] = {L::quiet_NaN(), T(-1), -L::denorm_min(), -L::infinity()};
        return r == role::nonneg ? bad_nonneg[b % 4] : bad_unit[b % 8];
    }
    switch (r) {
        case role::logit:
            if (m == 1) return static_cast<T>(static_cast<int>(b) - 128) / T(16);
            return b < 32 ? special_logit<T>(b) : static_cast<T>(static_cast<int>(b) - 144) * T(0.9375);
        case role::unit: {
            if (m == 1) return T(b & 1);
            const T table[8] = {T(0), T(1), T(0.5), L::denorm_min(), L::min(), T(1) - L::epsilon() / 2, L::epsilon(),
                                -T(0)};
            return b < 8 ? table[b] : static_cast<T>(b - 8) / T(247);
        }
        case role::nonneg:
        default: {
            if (m == 1) {
                const T table[4] = {T(0), T(0.5), T(1), T(2)};
                return table[b & 3];
            }
            const T table[6] = {T(0), T(1), L::denorm_min(), L::max(), L::infinity(), -T(0)};
            return b < 6 ? table[b] : static_cast<T>(b) / T(64);
        }
    }
}

template <class T>
T sprinkle_value(unsigned kind) {
    using L = std::numeric_limits<T>;
    switch (kind) {
        case 1: return L::quiet_NaN();
        case 2: return T(-1);
        case 3: return T(1) + L::epsilon();
        case 4: return -L::denorm_min();
        case 5: return L::infinity();
        case 6: return -L::infinity();
        default: return -T(0);  // valid everywhere: -0 >= 0
    }
}

std::size_t decode_n(std::uint8_t mode, unsigned p) {
    if (mode == 0xFF) {  // several blocks; 8 or more blocks can run on two threads
        const std::size_t k[4] = {1, 2, 8, 9};
        const long d = static_cast<long>((p >> 2) % 35) - 17;
        return static_cast<std::size_t>(static_cast<long>(k[p & 3] * block) + d);
    }
    switch (mode % 4) {
        case 0: return p % 65;
        case 1: {  // around a multiple of a SIMD or lane width
            const std::size_t w[8] = {2, 4, 8, 16, 32, 64, 128, 256};
            const long v = static_cast<long>(w[p & 7] * ((p >> 3) % 32)) + static_cast<long>((p >> 8) % 7) - 3;
            return std::min<std::size_t>(static_cast<std::size_t>(std::max(v, 0L)), max_small_n);
        }
        case 2: return p % (max_small_n + 1);
        default: return p % 257;
    }
}

// Divisor number `pick` (mod their count) of n > 0.
std::size_t some_divisor(std::size_t n, unsigned pick) {
    std::vector<std::size_t> d;
    for (std::size_t k = 1; k * k <= n; ++k)
        if (n % k == 0) {
            d.push_back(k);
            if (k * k != n) d.push_back(n / k);
        }
    return d[pick % d.size()];
}

// What a span of options is given: nothing, (null, len) or (data, len).
struct span_spec {
    bool given = false;
    bool null_data = false;
    std::size_t len = 0;
};

struct header {
    std::uint8_t b[header_size] = {};
};

// The decoded case, before values are drawn.
struct plan {
    bool dbl = false;
    fn_id fn = fn_id::logits_fwd;
    std::size_t n = 0;
    ll::reduction reduce = ll::reduction::mean;
    span_spec weight, pos_weight, losses;
    bool x_null = false, y_null = false, out_null = false;
    bool in_place = false, tight = false;
    bool in_place_y = false;  // a binary map in place overwrites y (grad_out), not x
    std::size_t threads = 1;
    bool check = true;
    unsigned path = 0;
    std::size_t off[6] = {};  // x, y, out, losses, weight, pos_weight
    unsigned mode[4] = {};    // x, y, weight, pos_weight
    unsigned sprinkle_index = 0, sprinkle_kind = 0, sprinkle_array = 0;
    unsigned probe = 0;
};

plan decode(const header& h) {
    plan p;
    const std::uint8_t* b = h.b;
    p.dbl = (b[0] & 1) != 0;
    p.fn = static_cast<fn_id>(b[1] % fn_count);
    p.n = decode_n(b[2], static_cast<unsigned>(b[3]) | (static_cast<unsigned>(b[4]) << 8));
    const std::size_t n = p.n;
    p.reduce = static_cast<ll::reduction>(b[5] % 3);

    switch (b[6] % 8) {
        case 3:
        case 4: p.weight = {true, false, n}; break;
        case 5: {  // a wrong length
            const std::size_t lens[4] = {n + 1, n > 0 ? n - 1 : 3, n + 16, 2 * n + 1};
            p.weight = {true, false, lens[b[7] % 4]};
            break;
        }
        case 6: p.weight = {true, true, n}; break;
        case 7: p.weight = {true, false, 0}; break;
        default: break;
    }

    const unsigned cp = b[9];
    const std::size_t fitting = n > 0 ? some_divisor(n, cp) : cp % 40 + 1;
    switch (b[8] % 8) {
        case 3: p.pos_weight = {true, false, 1}; break;
        case 4:
        case 5: p.pos_weight = {true, false, fitting}; break;
        case 6: {  // a class count that does not divide n (when n > 0)
            std::size_t c = cp % 40 + 2;
            if (n > 0 && n % c == 0) c = n + 1;
            p.pos_weight = {true, false, c};
            break;
        }
        case 7: p.pos_weight = {true, true, fitting}; break;
        default: break;
    }

    const bool none = p.reduce == ll::reduction::none;
    switch (b[10] % 4) {
        case 0: p.losses = {none, false, none ? n : 0}; break;
        case 1: p.losses = {true, false, n}; break;
        case 2: break;
        default: {
            switch (b[11] % 5) {
                case 0: p.losses = {true, false, n + 1}; break;
                case 1: p.losses = {true, false, n > 0 ? n - 1 : 1}; break;
                case 2: p.losses = {true, false, n + 16}; break;
                case 3: p.losses = {true, true, n}; break;
                default: p.losses = {true, false, 0}; break;
            }
        }
    }

    if (is_map(p.fn)) p.weight = p.pos_weight = p.losses = span_spec{};  // the maps take no options

    if ((b[12] >> 5) == 7) {
        p.x_null = (b[12] & 1) != 0;
        p.y_null = (b[12] & 2) != 0;
        p.out_null = (b[12] & 4) != 0;
    }
    p.in_place = (b[12] & 8) != 0;
    p.in_place_y = p.in_place && is_binary_map(p.fn) && (b[12] & 1) != 0;
    p.tight = (b[12] & 16) != 0;
    const std::size_t threads[3] = {1, 2, 0};
    p.threads = threads[b[13] % 3];
    p.check = b[14] % 4 != 3;
    p.path = b[15];
    for (int k = 0; k < 6; ++k) p.off[k] = b[16 + k] % 16u;
    for (int k = 0; k < 4; ++k) p.mode[k] = (b[22] >> (2 * k)) & 3u;
    p.sprinkle_index = b[23];
    p.sprinkle_kind = b[24] & 7u;
    p.sprinkle_array = (b[24] >> 3) & 3u;
    p.probe = b[26];
    return p;
}

std::string describe(const plan& p, const std::string& path) {
    auto spec = [](const span_spec& s) {
        if (!s.given) return std::string("-");
        return std::string(s.null_data ? "null/" : "") + std::to_string(s.len);
    };
    const char* reds[3] = {"none", "sum", "mean"};
    std::string s = std::string(p.dbl ? "double " : "float ") + fn_names[static_cast<int>(p.fn)] +
                    " n=" + std::to_string(p.n) + " reduce=" + reds[static_cast<int>(p.reduce)] +
                    " weight=" + spec(p.weight) + " pos_weight=" + spec(p.pos_weight) + " losses=" + spec(p.losses) +
                    " null(x,y,out)=" + std::to_string(p.x_null) + std::to_string(p.y_null) +
                    std::to_string(p.out_null) + " in_place=" + (p.in_place ? (p.in_place_y ? "y" : "x") : "0") +
                    " threads=" + std::to_string(p.threads) + " check=" + std::to_string(p.check) + " path=" + path +
                    " offsets=";
    for (auto o : p.off) s += std::to_string(o) + ",";
    s += " modes=";
    for (auto m : p.mode) s += std::to_string(m);
    s += " sprinkle=" + std::to_string(p.sprinkle_kind) + "@" + std::to_string(p.sprinkle_array) + "/" +
         std::to_string(p.sprinkle_index);
    return s;
}

// ---- the inputs ----------------------------------------------------------

template <class T>
struct inputs {
    std::size_t n = 0;
    region<T> x, y, w, pw;  // unallocated when null or not given
    ll::span<const T> weight, pos_weight;
};

template <class T>
void fill(region<T>& r, value_source& src, role ro, unsigned mode) {
    for (std::size_t i = 0; i < r.size(); ++i) {
        T v = draw<T>(src, ro, mode);
        if (to_bits(v) == canary<T>()) v = from_bits<T>(canary<T>() ^ 1);  // keep the canary unique to outputs
        r[i] = v;
    }
}

template <class T>
inputs<T> make_inputs(const plan& p, value_source& src) {
    inputs<T> in;
    in.n = p.n;
    const bool probs = on_probabilities(p.fn);
    if (!p.x_null) {
        in.x = region<T>(p.n, p.off[0], 0);
        fill(in.x, src, probs ? role::unit : role::logit, p.mode[0]);
    }
    if (is_binary_map(p.fn) && !p.y_null) {  // grad_out: any value
        in.y = region<T>(p.n, p.off[1], 0);
        fill(in.y, src, role::logit, p.mode[1]);
    }
    if (!is_map(p.fn)) {
        if (!p.y_null) {
            in.y = region<T>(p.n, p.off[1], 0);
            fill(in.y, src, role::unit, p.mode[1]);
        }
        if (p.weight.given) {
            if (p.weight.null_data) {
                in.weight = ll::span<const T>(nullptr, p.weight.len);
            } else {
                in.w = region<T>(p.weight.len, p.off[4], 0);
                fill(in.w, src, role::nonneg, p.mode[2]);
                in.weight = ll::span<const T>(in.w.data(), p.weight.len);
            }
        }
        if (p.pos_weight.given) {
            if (p.pos_weight.null_data) {
                in.pos_weight = ll::span<const T>(nullptr, p.pos_weight.len);
            } else {
                in.pw = region<T>(p.pos_weight.len, p.off[5], 0);
                fill(in.pw, src, role::nonneg, p.mode[3]);
                in.pos_weight = ll::span<const T>(in.pw.data(), p.pos_weight.len);
            }
        }
    }
    if (p.sprinkle_kind != 0) {
        region<T>* target[4] = {&in.x, &in.y, &in.w, &in.pw};
        region<T>& r = *target[p.sprinkle_array];
        if (r.allocated() && r.size() > 0)
            r[static_cast<std::size_t>(p.sprinkle_index) * r.size() / 256] = sprinkle_value<T>(p.sprinkle_kind);
    }
    return in;
}

// ---- the expected error -----------------------------------------------------

struct outcome {
    bool thrown = false;
    ll::error_kind kind = ll::error_kind::null_pointer;
    std::size_t index = 0;
};

outcome fails(ll::error_kind k, std::size_t i) { return {true, k, i}; }

std::string show(const outcome& o) {
    if (!o.thrown) return "no error";
    return std::string(kind_names[static_cast<int>(o.kind)]) + " at " + std::to_string(o.index);
}

// The error the documented rules call for (kernels.hpp: the options'
// comments, error_kind, error::index, validate's comment), derived from the
// plan and the values, not from the library. Where the comments leave the
// order of the structural checks open, this follows validate(): input,
// target and gradient pointers (null with n > 0: null_pointer, index 0);
// weight (given = non-empty or non-null data: a size other than n is
// size_mismatch at that size, then null data with n > 0 null_pointer);
// pos_weight (0 values with non-null data: size_mismatch at 0; C > 0
// values: on probabilities size_mismatch at C, then null
// data null_pointer, then n % C != 0 size_mismatch at C); losses (none: a
// size other than n, or null data with n > 0, is missing_output at the size;
// sum/mean: a non-zero size or non-null data is size_mismatch at the
// size); and, with check on, the values: pos_weight first (class index),
// then the lowest bad element with input, target, weight checked in that
// order there. A value is valid when the comparison holds (NaN never does;
// -0 >= 0 does); weights and pos_weight must also be finite.
template <class T>
outcome expected_error(const plan& p, const inputs<T>& in) {
    const std::size_t n = p.n;
    if (is_map(p.fn)) {
        // In place, the output is the input it overwrites: both are null
        // when either is (execute).
        const bool y_null = is_binary_map(p.fn) && p.y_null;
        if (n > 0 && (p.x_null || p.out_null || y_null)) return fails(ll::error_kind::null_pointer, 0);
        return {};
    }
    const bool probs = on_probabilities(p.fn);
    if (n > 0 && p.x_null) return fails(ll::error_kind::null_pointer, 0);
    if (n > 0 && p.y_null) return fails(ll::error_kind::null_pointer, 0);
    if (wants_grad(p.fn) && n > 0 && p.out_null) return fails(ll::error_kind::null_pointer, 0);
    if (p.weight.given && (p.weight.len > 0 || !p.weight.null_data)) {
        if (p.weight.len != n) return fails(ll::error_kind::size_mismatch, p.weight.len);
        if (n > 0 && p.weight.null_data) return fails(ll::error_kind::null_pointer, 0);
    }
    const std::size_t classes = p.pos_weight.given ? p.pos_weight.len : 0;
    if (classes == 0 && in.pos_weight.data() != nullptr) return fails(ll::error_kind::size_mismatch, 0);
    if (classes > 0) {
        if (probs) return fails(ll::error_kind::size_mismatch, classes);
        if (p.pos_weight.null_data) return fails(ll::error_kind::null_pointer, 0);
        if (n % classes != 0) return fails(ll::error_kind::size_mismatch, classes);
    }
    const std::size_t losses = p.losses.given ? p.losses.len : 0;
    if (p.reduce == ll::reduction::none) {
        if (losses != n || (n > 0 && p.losses.null_data)) return fails(ll::error_kind::missing_output, losses);
    } else if (p.losses.given && (losses != 0 || !p.losses.null_data)) {
        return fails(ll::error_kind::size_mismatch, losses);
    }
    if (!p.check) return {};
    for (std::size_t c = 0; c < classes; ++c)
        if (!(in.pw[c] >= T(0) && in.pw[c] <= std::numeric_limits<T>::max()))
            return fails(ll::error_kind::negative_pos_weight, c);
    const bool weighted = in.w.allocated() && in.w.size() == n;
    for (std::size_t i = 0; i < n; ++i) {
        if (probs && !(in.x[i] >= T(0) && in.x[i] <= T(1)))
            return fails(ll::error_kind::probability_out_of_range, i);
        if (!(in.y[i] >= T(0) && in.y[i] <= T(1))) return fails(ll::error_kind::target_out_of_range, i);
        if (weighted && !(in.w[i] >= T(0) && in.w[i] <= std::numeric_limits<T>::max()))
            return fails(ll::error_kind::negative_weight, i);
    }
    return {};
}

// Whether the values are in the documented domain (so the accuracy bounds,
// hence the agreement between paths, apply), with finite weights (an
// infinite weight times a loss that is 0 on one path and tiny on another is
// NaN against inf) and, for the same reason, finite grad_out.
template <class T>
bool values_valid(const plan& p, const inputs<T>& in) {
    if (is_binary_map(p.fn)) {
        for (std::size_t i = 0; i < p.n; ++i)
            if (!std::isfinite(in.y[i])) return false;
        return true;
    }
    if (is_map(p.fn)) return true;
    const bool probs = on_probabilities(p.fn);
    auto unit = [](T v) { return v >= T(0) && v <= T(1); };
    auto weight = [](T v) { return v >= T(0) && std::isfinite(v); };
    for (std::size_t i = 0; i < p.n; ++i) {
        if (!unit(in.y[i]) || (probs && !unit(in.x[i]))) return false;
        if (in.w.allocated() && !weight(in.w[i])) return false;
    }
    for (std::size_t c = 0; c < in.pw.size(); ++c)
        if (!weight(in.pw[c])) return false;
    return true;
}

// ---- one call ----------------------------------------------------------------

enum class impl { templates, dispatched };

template <class T>
T invoke(impl which, fn_id f, const T* x, const T* y, std::size_t n, T* out, const ll::options<T>& o) {
    const bool t = which == impl::templates;
    switch (f) {
        case fn_id::logits_fwd:
            return t ? ll::bce_with_logits_forward(x, y, n, o) : dp::bce_with_logits_forward(x, y, n, o);
        case fn_id::logits_fwdbwd:
            return t ? ll::bce_with_logits_forward_backward(x, y, n, out, o)
                     : dp::bce_with_logits_forward_backward(x, y, n, out, o);
        case fn_id::bce_fwd: return t ? ll::bce_forward(x, y, n, o) : dp::bce_forward(x, y, n, o);
        case fn_id::bce_fwdbwd:
            return t ? ll::bce_forward_backward(x, y, n, out, o) : dp::bce_forward_backward(x, y, n, out, o);
        case fn_id::sigmoid: t ? ll::sigmoid(x, n, out) : dp::sigmoid(x, n, out); return T(0);
        case fn_id::softplus: t ? ll::softplus(x, n, out) : dp::softplus(x, n, out); return T(0);
        case fn_id::log_sigmoid: t ? ll::log_sigmoid(x, n, out) : dp::log_sigmoid(x, n, out); return T(0);
        case fn_id::sigmoid_backward:
            t ? ll::sigmoid_backward(x, y, n, out) : dp::sigmoid_backward(x, y, n, out);
            return T(0);
    }
    return T(0);
}

// The outputs of one call.
template <class T>
struct result {
    outcome err;
    T value = T(0);
    region<T> out, losses;  // gradient or map output; per-element losses
};

template <class T>
result<T> execute(const plan& p, const inputs<T>& in, impl which, const char* label, std::size_t threads) {
    result<T> r;
    const std::size_t n = p.n;
    const std::size_t trail = p.tight ? 0 : 16;
    const bool map = is_map(p.fn);
    // In place: the output region starts as a copy of the input it replaces
    // (x, or y for a binary map with in_place_y), and that input's pointer
    // is the output's; without an output region both are null.
    const bool alias = map && p.in_place;
    const region<T>& aliased = p.in_place_y ? in.y : in.x;
    const bool aliased_null = p.in_place_y ? p.y_null : p.x_null;
    if ((map || wants_grad(p.fn)) && !p.out_null && !(alias && aliased_null)) {
        r.out = region<T>(n, p.off[2], trail);
        if (alias)
            for (std::size_t i = 0; i < n; ++i) r.out[i] = aliased[i];
    }
    ll::options<T> o;
    o.reduce = p.reduce;
    o.weight = in.weight;
    o.pos_weight = in.pos_weight;
    o.threads = threads;
    o.check = p.check;
    if (p.losses.given) {
        if (p.losses.null_data) {
            o.losses = ll::span<T>(nullptr, p.losses.len);
        } else {
            r.losses = region<T>(p.losses.len, p.off[3], trail);
            o.losses = ll::span<T>(r.losses.data(), p.losses.len);
        }
    }
    const auto out_before = r.out.snapshot();
    const auto losses_before = r.losses.snapshot();
    T* out = r.out.allocated() ? r.out.data() : nullptr;
    const T* x = in.x.allocated() ? in.x.data() : nullptr;
    const T* y = in.y.allocated() ? in.y.data() : nullptr;
    if (alias && p.in_place_y) {
        y = out;
    } else if (alias) {
        x = out;
    }
    try {
        r.value = invoke<T>(which, p.fn, x, y, n, out, o);
    } catch (const ll::error& e) {
        r.err = {true, e.kind(), e.index()};
    } catch (const std::exception& e) {
        finding(std::string(label) + ": exception other than logitloss::error: " + e.what());
    } catch (...) {
        finding(std::string(label) + ": exception of an unknown type");
    }
    const std::string who = std::string(label) + ": ";
    if (r.out.allocated() && r.out.broken_guard() >= 0)
        finding(who + "write outside the output array (guard element " + std::to_string(r.out.broken_guard()) + ")");
    if (r.losses.allocated() && r.losses.broken_guard() >= 0)
        finding(who + "write outside options.losses (guard element " + std::to_string(r.losses.broken_guard()) + ")");
    if (r.err.thrown) {
        if (!r.out.unchanged(out_before)) finding(who + "output written although " + show(r.err) + " was thrown");
        if (!r.losses.unchanged(losses_before))
            finding(who + "options.losses written although " + show(r.err) + " was thrown");
    } else {
        if (r.out.allocated() && !alias && r.out.unwritten() >= 0)
            finding(who + "output element " + std::to_string(r.out.unwritten()) + " not written");
        if (r.losses.allocated() && p.reduce == ll::reduction::none && r.losses.unwritten() >= 0)
            finding(who + "loss element " + std::to_string(r.losses.unwritten()) + " not written");
    }
    return r;
}

// ---- comparisons -------------------------------------------------------------

template <class T>
std::string pair_text(T a, T b) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.17g (0x%llx) vs %.17g (0x%llx)", static_cast<double>(a),
                  static_cast<unsigned long long>(to_bits(a)), static_cast<double>(b),
                  static_cast<unsigned long long>(to_bits(b)));
    return buf;
}

void same_outcome(const outcome& a, const outcome& b, const std::string& what) {
    if (a.thrown != b.thrown || (a.thrown && (a.kind != b.kind || a.index != b.index)))
        finding(what + ": " + show(a) + " vs " + show(b));
}

// Bit for bit (NaN against NaN whatever the payload).
template <class T>
void compare_bits(const plan& p, const result<T>& a, const result<T>& b, const std::string& what) {
    same_outcome(a.err, b.err, what);
    if (a.err.thrown) return;
    if (!same_bits(a.value, b.value)) finding(what + ": returned " + pair_text(a.value, b.value));
    if (a.out.allocated())
        for (std::size_t i = 0; i < p.n; ++i)
            if (!same_bits(a.out[i], b.out[i]))
                finding(what + ": output element " + std::to_string(i) + " " + pair_text(a.out[i], b.out[i]));
    if (a.losses.allocated() && p.reduce == ll::reduction::none)
        for (std::size_t i = 0; i < p.n; ++i)
            if (!same_bits(a.losses[i], b.losses[i]))
                finding(what + ": loss element " + std::to_string(i) + " " + pair_text(a.losses[i], b.losses[i]));
}

// Within the accuracy bounds. The gradient of bce_with_logits is
// w (b sigmoid(x) - a sigmoid(-x)) with a = pos_weight y, b = 1 - y (over n
// for the mean): the two terms cancel near the root, where two paths agree
// to a few rounding errors of the terms, not of the result.
template <class T>
void compare_close(const plan& p, const inputs<T>& in, const result<T>& a, const result<T>& b,
                   const std::string& what) {
    if (!close(a.value, b.value, 0.0)) finding(what + ": returned " + pair_text(a.value, b.value));
    const std::size_t n = p.n;
    if (a.out.allocated()) {
        const bool logit_grad = p.fn == fn_id::logits_fwdbwd;
        for (std::size_t i = 0; i < n; ++i) {
            double tol = 0.0;
            if (logit_grad) {
                const double y = static_cast<double>(in.y[i]);
                const std::size_t c = in.pw.size();
                const double pw = c == 0 ? 1.0 : static_cast<double>(in.pw[i % c]);
                double scale = pw * y + (1.0 - y);
                if (in.w.allocated()) scale *= static_cast<double>(in.w[i]);
                if (p.reduce == ll::reduction::mean) scale /= static_cast<double>(n);
                tol = static_cast<double>(kUlps) * static_cast<double>(std::numeric_limits<T>::epsilon()) * scale;
            } else if (p.fn == fn_id::sigmoid_backward) {
                // README: where sigmoid'(x) is subnormal, within
                // |grad_out| denorm_min rather than in ulp.
                tol = static_cast<double>(kUlps) * std::fabs(static_cast<double>(in.y[i])) *
                      static_cast<double>(std::numeric_limits<T>::denorm_min());
            }
            if (!close(a.out[i], b.out[i], tol))
                finding(what + ": output element " + std::to_string(i) + " " + pair_text(a.out[i], b.out[i]));
        }
    }
    if (a.losses.allocated() && p.reduce == ll::reduction::none)
        for (std::size_t i = 0; i < n; ++i)
            if (!close(a.losses[i], b.losses[i], 0.0))
                finding(what + ": loss element " + std::to_string(i) + " " + pair_text(a.losses[i], b.losses[i]));
}

// Element i of the full call against a call on that element alone.
template <class T>
void check_position(const plan& p, const inputs<T>& in, const result<T>& full, std::size_t i) {
    const bool map = is_map(p.fn);
    region<T> out(1, 0, 0), losses(1, 0, 0);
    const T* x = in.x.data() + i;
    T v = T(0);
    try {
        if (map) {
            const T* y = is_binary_map(p.fn) ? in.y.data() + i : nullptr;
            invoke<T>(impl::templates, p.fn, x, y, 1, out.data(), ll::options<T>{});
        } else {
            ll::options<T> o;
            o.reduce = ll::reduction::none;
            o.losses = ll::span<T>(losses.data(), 1);
            o.check = p.check;
            if (in.w.allocated()) o.weight = ll::span<const T>(in.w.data() + i, 1);
            if (in.pw.size() > 0) o.pos_weight = ll::span<const T>(in.pw.data() + i % in.pw.size(), 1);
            v = invoke<T>(impl::templates, p.fn, x, in.y.data() + i, 1, wants_grad(p.fn) ? out.data() : nullptr, o);
        }
    } catch (const ll::error& e) {
        finding("single element " + std::to_string(i) + ": logitloss::error " + e.what());
    }
    const std::string at = "element " + std::to_string(i) + " alone vs in the array: ";
    if (!map && v != T(0)) finding("reduction::none returned " + pair_text(v, T(0)));
    const bool grads_comparable = wants_grad(p.fn) && p.reduce != ll::reduction::mean;
    if ((map || grads_comparable) && !same_bits(out[0], full.out[i]))
        finding(at + "output " + pair_text(out[0], full.out[i]));
    if (!map && p.reduce == ll::reduction::none && !same_bits(losses[0], full.losses[i]))
        finding(at + "loss " + pair_text(losses[0], full.losses[i]));
}

const std::vector<std::string>& paths() {
    static const std::vector<std::string> names = dp::available_paths();
    return names;
}

bool has_fma(const std::string& name) { return name == "avx512bw" || name == "avx2_fma"; }

template <class T>
void run_case(const plan& p, const std::uint8_t* payload, std::size_t payload_size, std::uint64_t seed) {
    value_source src(payload, payload_size, seed);
    const inputs<T> in = make_inputs<T>(p, src);
    const auto x0 = in.x.snapshot(), y0 = in.y.snapshot(), w0 = in.w.snapshot(), pw0 = in.pw.snapshot();
    const outcome want = expected_error(p, in);

    const std::string& path = paths()[p.path % paths().size()];
    g_case = describe(p, path) + " expected=" + show(want);
    static const bool verbose = std::getenv("LOGITLOSS_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "case: %s\n", g_case.c_str());

    const result<T> a = execute(p, in, impl::templates, "templates", p.threads);
    same_outcome(a.err, want, "templates against the documented rules");

    if (!dp::use_path(path)) finding("use_path(" + path + ") refused an available path");
    const result<T> b = execute(p, in, impl::dispatched, "dispatch", p.threads);
    same_outcome(b.err, want, "dispatch (" + path + ") against the documented rules");

    // The two FMA paths: the same bits (dispatch.hpp).
    if (has_fma(path)) {
        for (const auto& other : paths()) {
            if (other == path || !has_fma(other)) continue;
            dp::use_path(other);
            const result<T> c = execute(p, in, impl::dispatched, "dispatch (second FMA path)", p.threads);
            compare_bits(p, b, c, "dispatch " + path + " against " + other);
        }
    }

    if (!want.thrown) {
        if (!is_map(p.fn) && p.reduce == ll::reduction::none && (a.value != T(0) || b.value != T(0)))
            finding("reduction::none returned " + pair_text(a.value, b.value));
        if (values_valid(p, in)) compare_close(p, in, a, b, "templates against dispatch (" + path + ")");
        // Single elements: the first, the last and one chosen by the input.
        const bool any = is_map(p.fn) || p.reduce == ll::reduction::none ||
                         (wants_grad(p.fn) && p.reduce != ll::reduction::mean);
        if (any && p.n > 0 && a.out.allocated() == (is_map(p.fn) || wants_grad(p.fn))) {
            check_position(p, in, a, 0);
            check_position(p, in, a, p.n - 1);
            check_position(p, in, a, static_cast<std::size_t>(p.probe) * p.n / 256);
        }
        if (is_map(p.fn) && p.in_place) {
            // Templates in place (a) against out of place.
            plan q = p;
            q.in_place = q.in_place_y = false;
            const result<T> c = execute(q, in, impl::templates, "templates out of place", p.threads);
            compare_bits(p, a, c, "map in place against out of place");
        }
        if (p.n > max_small_n && p.threads != 1) {
            const result<T> c = execute(p, in, impl::templates, "templates, one thread", 1);
            compare_bits(p, a, c, "threads=" + std::to_string(p.threads) + " against one thread");
        }
    }
    if (!in.x.unchanged(x0) || !in.y.unchanged(y0) || !in.w.unchanged(w0) || !in.pw.unchanged(pw0))
        finding("an input array was modified");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    header h;
    std::memcpy(h.b, data, std::min(size, header_size));
    const plan p = decode(h);
    const std::uint8_t* payload = size > header_size ? data + header_size : nullptr;
    const std::size_t payload_size = size > header_size ? size - header_size : 0;
    std::uint64_t seed = 0xCBF29CE484222325ull;  // FNV-1a of the header
    for (std::uint8_t c : h.b) seed = (seed ^ c) * 0x100000001B3ull;
    if (p.dbl) {
        run_case<double>(p, payload, payload_size, seed);
    } else {
        run_case<float>(p, payload, payload_size, seed);
    }
    return 0;
}
