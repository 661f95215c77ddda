// data/synth.cpp — the synthetic CelebA-layout generator; see synth.hpp.
//
// Drawing works on a planar float RGB canvas (0..255) with antialiased shapes: each
// shape computes, per pixel of its bounding box, an estimate of the signed
// distance to its outline and blends its colour with coverage
// clamp(0.5 - distance, 0, 1). Build with -ffp-contract=off (CMakeLists
// does) so that the same seed gives the same bytes whatever -march is, and
// draw every random number in a statement of its own: the order in which a
// call's arguments are evaluated is the compiler's choice (GCC and Clang
// differ), and with it the picture would be.
#include "synth.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "error.hpp"
#include "jpeg.hpp"

namespace logitloss::experiments::celeba::synth {

// ---- random numbers --------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

rng::rng(std::uint64_t seed) {
    for (std::uint64_t& word : s_)
        word = splitmix64(seed);
}

namespace {
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

std::uint64_t rng::next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

float rng::uniform() { return static_cast<float>(next() >> 40) * 0x1p-24f; }

float rng::uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

bool rng::chance(float p) { return uniform() < p; }

rng stream(std::uint64_t seed, std::size_t index, std::uint64_t purpose) {
    // Hash seed, index and purpose in turn, so that neighbouring indices or
    // seeds give unrelated streams.
    std::uint64_t state = seed;
    state = splitmix64(state) ^ static_cast<std::uint64_t>(index);
    state = splitmix64(state) ^ purpose;
    return rng(splitmix64(state));
}

namespace {
constexpr std::uint64_t attributes_purpose = 0;
constexpr std::uint64_t picture_purpose = 1;
}  // namespace

attribute_row attributes(std::uint64_t seed, std::size_t index) {
    rng r = stream(seed, index, attributes_purpose);
    attribute_row row{};
    for (std::int8_t& value : row)
        value = r.chance(0.5f) ? 1 : -1;
    return row;
}

// ---- drawing ---------------------------------------------------------------

namespace {

struct colour {
    float r = 0;
    float g = 0;
    float b = 0;
};

colour scaled(colour c, float k) { return {c.r * k, c.g * k, c.b * k}; }

colour mixed(colour a, colour b, float t) {
    return {a.r + t * (b.r - a.r), a.g + t * (b.g - a.g), a.b + t * (b.b - a.b)};
}

colour random_colour(rng& r, float lo, float hi) {
    // One draw per statement (see the file comment).
    const float red = r.uniform(lo, hi);
    const float green = r.uniform(lo, hi);
    const float blue = r.uniform(lo, hi);
    return {red, green, blue};
}

colour jittered(colour c, rng& r, float amount) {
    const float red = c.r + r.uniform(-amount, amount);
    const float green = c.g + r.uniform(-amount, amount);
    const float blue = c.b + r.uniform(-amount, amount);
    return {red, green, blue};
}

float sq(float x) { return x * x; }

struct point {
    float x = 0;
    float y = 0;
};

// The face's frame: its centre and its rotation. Face parts are placed in
// face coordinates (u right, v down, origin at the face centre).
struct frame {
    point centre;
    float cos = 1;
    float sin = 0;

    point to_image(float u, float v) const { return {centre.x + u * cos - v * sin, centre.y + u * sin + v * cos}; }
};

// Pixel rows and columns [x0, x1) x [y0, y1) of the canvas.
struct pixel_box {
    int x0 = 0;
    int y0 = 0;
    int x1 = 0;
    int y1 = 0;
};

pixel_box box_around(point c, float half_x, float half_y) {
    const auto lo = [](float v) { return static_cast<int>(std::floor(v)); };
    const auto hi = [](float v) { return static_cast<int>(std::ceil(v)); };
    return {std::max(lo(c.x - half_x - 1), 0), std::max(lo(c.y - half_y - 1), 0),
            std::min(hi(c.x + half_x + 1), width), std::min(hi(c.y + half_y + 1), height)};
}

// The canvas is planar (one plane of width x height floats per channel), so
// that a row of a shape blends as contiguous, vectorisable arrays.
constexpr std::size_t plane_size = static_cast<std::size_t>(width) * height;

class canvas {
public:
    explicit canvas(float* planes) : px_(planes) {}

    float* row(int channel, int y) {
        return px_ + static_cast<std::size_t>(channel) * plane_size + static_cast<std::size_t>(y) * width;
    }

    void blend(int x, int y, colour c, float alpha) {
        const std::size_t at = static_cast<std::size_t>(y) * width + static_cast<std::size_t>(x);
        px_[at] += alpha * (c.r - px_[at]);
        px_[plane_size + at] += alpha * (c.g - px_[plane_size + at]);
        px_[2 * plane_size + at] += alpha * (c.b - px_[2 * plane_size + at]);
    }

private:
    float* px_;
};

float clamp01(float v) {
    // Written as selects, which vectorise (std::clamp's references do not
    // always).
    v = v > 0.0f ? v : 0.0f;
    return v < 1.0f ? v : 1.0f;
}

float coverage(float distance) { return clamp01(0.5f - distance); }

// An ellipse with radii (rx, ry) in a frame, optionally shaded: its colour
// is multiplied by 1 + shade_u u / rx + shade_v v / ry (light from a side).
struct ellipse {
    frame at;
    float rx = 1;
    float ry = 1;
    float shade_u = 0;
    float shade_v = 0;
};

// The pixel columns x of the row at height dy (from the centre) where
// f = (u/rx)^2 + (v/ry)^2 - 1 < limit: f is a quadratic in x, and the answer
// is the open interval (lo, hi) of x, or nothing.
bool ellipse_span(const ellipse& e, float dy, float limit, float& lo, float& hi) {
    const float c = e.at.cos;
    const float s = e.at.sin;
    const float irx2 = 1.0f / (e.rx * e.rx);
    const float iry2 = 1.0f / (e.ry * e.ry);
    const float a = c * c * irx2 + s * s * iry2;
    const float b = 2.0f * dy * c * s * (irx2 - iry2);
    const float k = dy * dy * (s * s * irx2 + c * c * iry2) - 1.0f - limit;
    const float disc = b * b - 4.0f * a * k;
    if (disc < 0.0f)
        return false;
    const float root = std::sqrt(disc);
    // Pixel x is centred at dx = x + 0.5 - centre.x.
    lo = (-b - root) / (2.0f * a) + e.at.centre.x - 0.5f;
    hi = (-b + root) / (2.0f * a) + e.at.centre.x - 0.5f;
    return true;
}

int clamp_column(float x) { return static_cast<int>(std::min(std::max(x, -1.0f), static_cast<float>(width + 1))); }

class ellipse_painter {
public:
    ellipse_painter(canvas& cv, const ellipse& e, colour c, float alpha)
        : cv_(cv), e_(e), c_(c), alpha_(alpha), irx2_(1.0f / (e.rx * e.rx)), iry2_(1.0f / (e.ry * e.ry)),
          su_(e.shade_u / e.rx), sv_(e.shade_v / e.ry) {}

    // The distance to the outline is about f / |grad f|, and |grad f| <=
    // 2 sqrt(1 + f) / min(rx, ry): where f <= -1 / min(rx, ry) a pixel is
    // covered, where f >= 2 / min(rx, ry) it is untouched. Each row paints
    // its covered span with plain blending and computes coverage only in the
    // bands between.
    void paint() {
        const float r_min = std::min(e_.rx, e_.ry);
        const float inside = -1.0f / r_min;
        const float outside = 2.0f / r_min;
        const float half_y = std::sqrt(sq(e_.rx * e_.at.sin) + sq(e_.ry * e_.at.cos));
        const int y0 = std::max(static_cast<int>(std::floor(e_.at.centre.y - half_y - 1)), 0);
        const int y1 = std::min(static_cast<int>(std::ceil(e_.at.centre.y + half_y + 1)), height);
        for (int y = y0; y < y1; ++y) {
            const float dy = static_cast<float>(y) + 0.5f - e_.at.centre.y;
            float lo = 0;
            float hi = 0;
            if (!ellipse_span(e_, dy, outside, lo, hi))
                continue;
            const int x0 = std::max(clamp_column(std::floor(lo)), 0);
            const int x1 = std::min(clamp_column(std::ceil(hi)) + 1, width);
            // The covered span, shrunk by a margin against rounding in the
            // roots: a pixel left out only takes the exact path.
            int i0 = x1;
            int i1 = x1;
            if (inside > -1.0f && ellipse_span(e_, dy, inside, lo, hi)) {
                i0 = std::clamp(clamp_column(std::ceil(lo + 0.01f)), x0, x1);
                i1 = std::clamp(clamp_column(std::floor(hi - 0.01f)) + 1, i0, x1);
            }
            edge(y, dy, x0, i0);
            interior(y, dy, i0, i1);
            edge(y, dy, i1, x1);
        }
    }

private:
    void interior(int y, float dy, int x0, int x1) {
        float* red = cv_.row(0, y);
        float* green = cv_.row(1, y);
        float* blue = cv_.row(2, y);
        for (int x = x0; x < x1; ++x) {
            const float dx = static_cast<float>(x) + 0.5f - e_.at.centre.x;
            const float shade = 1.0f + su_ * (dx * e_.at.cos + dy * e_.at.sin) + sv_ * (dy * e_.at.cos - dx * e_.at.sin);
            red[x] += alpha_ * (c_.r * shade - red[x]);
            green[x] += alpha_ * (c_.g * shade - green[x]);
            blue[x] += alpha_ * (c_.b * shade - blue[x]);
        }
    }

    void edge(int y, float dy, int x0, int x1) {
        for (int x = x0; x < x1; ++x) {
            const float dx = static_cast<float>(x) + 0.5f - e_.at.centre.x;
            const float u = dx * e_.at.cos + dy * e_.at.sin;
            const float v = dy * e_.at.cos - dx * e_.at.sin;
            const float f = u * u * irx2_ + v * v * iry2_ - 1.0f;
            const float grad = 2.0f * std::sqrt(sq(u * irx2_) + sq(v * iry2_)) + 1e-6f;
            const float cover = coverage(f / grad);
            if (cover > 0.0f)
                cv_.blend(x, y, scaled(c_, 1.0f + su_ * u + sv_ * v), alpha_ * cover);
        }
    }

    canvas& cv_;
    const ellipse& e_;
    colour c_;
    float alpha_;
    float irx2_;
    float iry2_;
    float su_;
    float sv_;
};

void fill(canvas& cv, const ellipse& e, colour c, float alpha) { ellipse_painter(cv, e, c, alpha).paint(); }

// A stroked parabolic arc of half-width a: in its frame the centre line is
// v = sag (1/3 - (u/a)^2) for |u| <= a, so the arc's mean height is v = 0
// whatever the sag. sag > 0: the corners are higher than the middle (a
// smile); sag < 0: lower (a frown, or an arched eyebrow).
struct arc {
    frame at;
    float half_width = 1;
    float sag = 0;
    float thickness = 1;
};

float distance_to(const arc& a, float u, float v) {
    const float au = std::fabs(u);
    const float ia2 = 1.0f / (a.half_width * a.half_width);
    if (au <= a.half_width) {
        const float centre_v = a.sag * (1.0f / 3.0f - u * u * ia2);
        const float slope = -2.0f * a.sag * u * ia2;
        // Vertical distance over the slope factor: the distance to the
        // tangent line, close to the true one for these gentle curves.
        return std::fabs(v - centre_v) / std::sqrt(1.0f + slope * slope);
    }
    const float end_v = -2.0f * a.sag / 3.0f;
    return std::sqrt(sq(au - a.half_width) + sq(v - end_v));
}

// Blends c over the pixels within `reach` of the frame's centre, each by the
// coverage of outside(u, v): the signed distance in pixels from the shape
// (0 or less inside) at the pixel centre's frame coordinates (u, v).
template <class Outside>
void paint(canvas& cv, const frame& at, float reach, colour c, float alpha, Outside outside) {
    const pixel_box b = box_around(at.centre, reach, reach);
    for (int y = b.y0; y < b.y1; ++y) {
        const float dy = static_cast<float>(y) + 0.5f - at.centre.y;
        for (int x = b.x0; x < b.x1; ++x) {
            const float dx = static_cast<float>(x) + 0.5f - at.centre.x;
            const float u = dx * at.cos + dy * at.sin;
            const float v = dy * at.cos - dx * at.sin;
            const float cover = coverage(outside(u, v));
            if (cover > 0.0f)
                cv.blend(x, y, c, alpha * cover);
        }
    }
}

void stroke(canvas& cv, const arc& a, colour c, float alpha) {
    const float reach = std::sqrt(sq(a.half_width + a.thickness) + sq(std::fabs(a.sag) + a.thickness));
    const float half = 0.5f * a.thickness;
    paint(cv, a.at, reach, c, alpha, [&](float u, float v) { return distance_to(a, u, v) - half; });
}

// A segment from p to q with round caps of the given radius.
void stroke(canvas& cv, point p, point q, float radius, colour c, float alpha) {
    const point mid{0.5f * (p.x + q.x), 0.5f * (p.y + q.y)};
    const pixel_box b = box_around(mid, 0.5f * std::fabs(q.x - p.x) + radius, 0.5f * std::fabs(q.y - p.y) + radius);
    const float ex = q.x - p.x;
    const float ey = q.y - p.y;
    const float length2 = std::max(ex * ex + ey * ey, 1e-6f);
    for (int y = b.y0; y < b.y1; ++y) {
        const float py = static_cast<float>(y) + 0.5f - p.y;
        for (int x = b.x0; x < b.x1; ++x) {
            const float px = static_cast<float>(x) + 0.5f - p.x;
            const float t = std::clamp((px * ex + py * ey) / length2, 0.0f, 1.0f);
            const float d = std::sqrt(sq(px - t * ex) + sq(py - t * ey));
            const float cover = coverage(d - radius);
            if (cover > 0.0f)
                cv.blend(x, y, c, alpha * cover);
        }
    }
}

// ---- the picture -----------------------------------------------------------

struct face {
    frame at;
    float rx = 0;  // half-width
    float ry = 0;  // half-height
    colour skin;
    colour hair;
    float light_u = 0;  // shading across the face
    float light_v = 0;
};

// Frame of a face part at face coordinates (u, v), rotated with the face.
frame part(const face& f, float u, float v) { return {f.at.to_image(u, v), f.at.cos, f.at.sin}; }

void draw_background(canvas& cv, rng& r) {
    // A linear gradient between two colours in a random direction; the
    // gradient parameter runs over at most [0, 1] across the image, so it
    // needs no clamping.
    const colour from = random_colour(r, 15.0f, 240.0f);
    const colour other = random_colour(r, 15.0f, 240.0f);
    const colour to = mixed(from, other, r.uniform(0.3f, 1.0f));
    const float angle = r.uniform(0.0f, 6.2831853f);
    const float gx = 0.5f * std::cos(angle) / width;
    const float gy = 0.5f * std::sin(angle) / height;
    const float ends[3][2] = {{from.r, to.r}, {from.g, to.g}, {from.b, to.b}};
    for (int channel = 0; channel < 3; ++channel) {
        const float base = ends[channel][0];
        const float span = ends[channel][1] - base;
        for (int y = 0; y < height; ++y) {
            float* row = cv.row(channel, y);
            const float t0 = 0.5f + gy * static_cast<float>(2 * y - height) - gx * static_cast<float>(width);
            for (int x = 0; x < width; ++x)
                row[x] = base + span * (t0 + gx * static_cast<float>(2 * x));
        }
    }
}

// Up to three translucent blobs behind the person: clutter that is not a face.
void draw_clutter(canvas& cv, rng& r) {
    const int blobs = static_cast<int>(r.next() % 4);
    for (int k = 0; k < blobs; ++k) {
        ellipse e;
        const float x = r.uniform(0.0f, width);
        const float y = r.uniform(0.0f, height);
        e.at = {{x, y}, 1.0f, 0.0f};
        e.rx = r.uniform(8.0f, 60.0f);
        e.ry = r.uniform(8.0f, 60.0f);
        const colour c = random_colour(r, 0.0f, 255.0f);
        fill(cv, e, c, r.uniform(0.2f, 0.8f));
    }
}

face random_face(rng& r) {
    face f;
    const float angle = r.uniform(-0.2f, 0.2f);  // about +-11 degrees
    const float x = r.uniform(81.0f, 97.0f);
    const float y = r.uniform(104.0f, 120.0f);
    f.at = {{x, y}, std::cos(angle), std::sin(angle)};
    f.rx = r.uniform(32.0f, 44.0f);
    f.ry = f.rx * r.uniform(1.22f, 1.40f);
    // Skin from dark to light brown, a little hue jitter.
    const colour dark{95.0f, 62.0f, 42.0f};
    const colour light{238.0f, 205.0f, 180.0f};
    f.skin = jittered(mixed(dark, light, r.uniform()), r, 12.0f);
    static const colour hair_colours[] = {{25, 20, 18},   {60, 40, 28},    {110, 75, 45},
                                          {205, 172, 112}, {150, 148, 145}, {125, 52, 30}};
    f.hair = jittered(hair_colours[r.next() % 6], r, 15.0f);
    f.light_u = r.uniform(-0.25f, 0.25f);
    f.light_v = r.uniform(-0.1f, 0.2f);
    return f;
}

void draw_body(canvas& cv, const face& f, rng& r) {
    ellipse shoulders;
    const float x = f.at.centre.x + r.uniform(-10.0f, 10.0f);
    const float y = height + r.uniform(5.0f, 25.0f);
    shoulders.at = {{x, y}, 1.0f, 0.0f};
    shoulders.rx = r.uniform(62.0f, 88.0f);
    shoulders.ry = r.uniform(45.0f, 65.0f);
    shoulders.shade_u = r.uniform(-0.2f, 0.2f);
    const colour clothes = random_colour(r, 10.0f, 245.0f);
    fill(cv, shoulders, clothes, 1.0f);

    ellipse neck;
    neck.at = part(f, 0.0f, f.ry * 0.95f);
    neck.rx = f.rx * r.uniform(0.42f, 0.52f);
    neck.ry = f.ry * 0.5f;
    neck.shade_u = f.light_u;
    fill(cv, neck, scaled(f.skin, 0.82f), 1.0f);
}

// Hair behind the head: a larger ellipse, longer or shorter.
void draw_back_hair(canvas& cv, const face& f, rng& r) {
    ellipse hair;
    const float length = r.uniform(0.0f, 0.45f);
    hair.at = part(f, 0.0f, f.ry * (length - 0.18f));
    hair.rx = f.rx * r.uniform(1.08f, 1.32f);
    hair.ry = f.ry * (r.uniform(1.0f, 1.12f) + length * 0.6f);
    hair.shade_u = f.light_u;
    fill(cv, hair, f.hair, 1.0f);
}

void draw_head(canvas& cv, const face& f) {
    for (const float side : {-1.0f, 1.0f}) {
        ellipse ear;
        ear.at = part(f, side * f.rx * 0.96f, -0.04f * f.ry);
        ear.rx = f.rx * 0.16f;
        ear.ry = f.ry * 0.26f;
        fill(cv, ear, scaled(f.skin, 0.9f), 1.0f);
    }
    ellipse head;
    head.at = f.at;
    head.rx = f.rx;
    head.ry = f.ry;
    head.shade_u = f.light_u;
    head.shade_v = f.light_v;
    fill(cv, head, f.skin, 1.0f);
}

// Bangs over the forehead, on some faces.
void draw_fringe(canvas& cv, const face& f, rng& r) {
    if (!r.chance(0.4f))
        return;
    ellipse fringe;
    const float u = f.rx * r.uniform(-0.25f, 0.25f);
    const float v = -f.ry * r.uniform(0.88f, 1.0f);
    fringe.at = part(f, u, v);
    fringe.rx = f.rx * r.uniform(0.8f, 1.05f);
    fringe.ry = f.ry * r.uniform(0.3f, 0.45f);
    fill(cv, fringe, f.hair, 1.0f);
}

// Eyes, and the eyebrows above them (arched arcs, the mouth's look-alikes).
void draw_eyes(canvas& cv, const face& f, rng& r) {
    const float eye_v = -f.ry * r.uniform(0.08f, 0.18f);
    const float spacing = f.rx * r.uniform(0.36f, 0.46f);
    const float eye_rx = f.rx * r.uniform(0.14f, 0.2f);
    const float eye_ry = eye_rx * r.uniform(0.4f, 0.65f);
    const float gaze = eye_rx * r.uniform(-0.3f, 0.3f);
    static const colour iris_colours[] = {{70, 45, 25}, {40, 30, 25}, {70, 110, 150}, {80, 110, 70}};
    const colour iris = jittered(iris_colours[r.next() % 4], r, 10.0f);
    const float brow_gap = f.ry * r.uniform(0.15f, 0.24f);
    const float brow_thickness = r.uniform(1.5f, 3.2f);
    const float brow_arch = r.uniform(0.15f, 0.45f);
    const colour brow = mixed(f.hair, colour{30, 25, 20}, r.uniform(0.0f, 0.6f));
    for (const float side : {-1.0f, 1.0f}) {
        ellipse white;
        white.at = part(f, side * spacing, eye_v);
        white.rx = eye_rx;
        white.ry = eye_ry;
        fill(cv, white, colour{235, 232, 225}, 1.0f);
        ellipse pupil;
        pupil.at = part(f, side * spacing + gaze, eye_v);
        pupil.rx = pupil.ry = eye_ry * 0.95f;
        fill(cv, pupil, iris, 1.0f);
        pupil.rx = pupil.ry = eye_ry * 0.45f;
        fill(cv, pupil, colour{12, 10, 10}, 1.0f);

        arc eyebrow;
        eyebrow.at = part(f, side * spacing, eye_v - brow_gap);
        eyebrow.half_width = eye_rx * 1.2f;
        eyebrow.sag = -brow_arch * eyebrow.half_width;
        eyebrow.thickness = brow_thickness;
        stroke(cv, eyebrow, brow, 0.9f);
    }
}

void draw_nose(canvas& cv, const face& f, rng& r) {
    const float u = f.rx * r.uniform(-0.04f, 0.04f);
    const float tip_v = f.ry * r.uniform(0.17f, 0.26f);
    const float width_nostrils = f.rx * r.uniform(0.08f, 0.13f);
    const colour shadow = scaled(f.skin, 0.72f);
    const float tip_u = u + f.rx * r.uniform(-0.05f, 0.05f);
    const float bridge = r.uniform(1.0f, 2.0f);
    stroke(cv, f.at.to_image(u, -f.ry * 0.02f), f.at.to_image(tip_u, tip_v), bridge, shadow, 0.45f);
    stroke(cv, f.at.to_image(u - width_nostrils, tip_v), f.at.to_image(u + width_nostrils, tip_v), 1.2f, shadow,
           0.55f);
}

// A lens between two parabolas that meet at (+-a, 0) in a frame: the points
// with |u| <= a and top (1 - (u/a)^2) - grow <= v <= bottom (1 - (u/a)^2) +
// grow (v points down the face), with bottom > top. grow > 0 widens it by
// that many pixels above and below (the lips around an open mouth).
struct lens {
    frame at;
    float half_width = 1;
    float top = 0;
    float bottom = 1;
};

void fill(canvas& cv, const lens& l, float grow, colour c, float alpha) {
    const float reach_u = l.half_width + grow + 1.0f;
    const float reach_v = std::fabs(l.bottom) + std::fabs(l.top) + grow + 1.0f;
    const float ia2 = 1.0f / (l.half_width * l.half_width);
    paint(cv, l.at, std::hypot(reach_u, reach_v), c, alpha, [&](float u, float v) {
        const float shape = 1.0f - std::min(u * u * ia2, 1.0f);
        // Vertically from either curve, horizontally past the corners.
        return std::max({l.top * shape - grow - v, v - l.bottom * shape - grow,
                         std::fabs(u) - l.half_width - 0.5f * grow});
    });
}

// The label. Smiling: an open smile, a lens whose lower edge sags well
// below its corners, lips around it, a row of teeth along the upper edge and
// the dark mouth below them. Not smiling: closed lips, an arc from nearly
// straight to clearly turned down. Both are 30-42 % of the face width and
// sit at the same height; their place, size, colour and the lighting do not
// depend on the label. Real smiles in CelebA are mostly open, which is what
// makes the attribute learnable in a few epochs; so is this one (the least
// open smile's lower edge is 4.3 px below its corners on the smallest face
// at 178 x 218, 3.5 px after the crop and resize to 128).
void draw_mouth(canvas& cv, const face& f, bool smiling, rng& r) {
    const float u = f.rx * r.uniform(-0.06f, 0.06f);
    const float v = f.ry * r.uniform(0.44f, 0.54f);
    const float half_width = f.rx * r.uniform(0.3f, 0.42f);
    const float redness = r.uniform(0.5f, 0.9f);
    const float darkness = r.uniform(0.45f, 0.75f);
    const colour lips = scaled(mixed(f.skin, colour{160, 50, 60}, redness), darkness);
    const float lip = r.uniform(1.2f, 2.2f);
    const float depth = r.uniform(0.45f, 0.7f);     // smile: the lens's lower sag, of the half-width
    const float upper = r.uniform(0.05f, 0.2f);     // smile: the upper lip's sag
    const float teeth = r.uniform(0.35f, 0.6f);     // smile: share of the opening
    const float curvature = r.uniform(0.1f, 0.6f);  // closed mouth: the corners' drop, of the half-width
    if (smiling) {
        lens mouth;
        // The lens's middle at the closed mouth's height.
        mouth.at = part(f, u, v - 0.5f * depth * half_width);
        mouth.half_width = half_width;
        mouth.top = upper * half_width;
        mouth.bottom = depth * half_width;
        fill(cv, mouth, lip, lips, 1.0f);
        fill(cv, mouth, 0.0f, colour{70, 22, 28}, 1.0f);
        lens row = mouth;
        row.bottom = mouth.top + teeth * (mouth.bottom - mouth.top);
        fill(cv, row, 0.0f, colour{238, 234, 222}, 1.0f);
    } else {
        arc mouth;
        mouth.at = part(f, u, v);
        mouth.half_width = half_width;
        mouth.sag = -curvature * half_width;
        mouth.thickness = 2.0f * lip;
        stroke(cv, mouth, lips, 1.0f);
    }
}

// Unit-variance noise, drawn once per process from a fixed seed: each image
// row reads it from a random offset, which costs one draw per row instead
// of one per pixel. Triangular (the sum of two uniforms), close enough to a
// sensor's Gaussian.
constexpr std::size_t noise_table_size = 1 << 16;

const std::vector<float>& noise_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(noise_table_size);
        rng r(0x6E6F697365ULL);
        for (float& v : t) {
            const float a = r.uniform();
            const float b = r.uniform();
            v = (a + b - 1.0f) * 2.4494897f;  // sqrt(6): unit variance
        }
        return t;
    }();
    return table;
}

// Lighting (a gradient of brightness), a colour cast and noise, then
// rounding to 8 bits, interleaved.
void develop(canvas& cv, std::uint8_t* rgb, rng& r) {
    const float level = r.uniform(0.75f, 1.15f);
    const float slope_x = r.uniform(-0.35f, 0.35f) / width;
    const float slope_y = r.uniform(-0.25f, 0.25f) / height;
    float gain[3];
    for (float& g : gain)
        g = r.uniform(0.9f, 1.1f);
    const float sigma = r.uniform(1.5f, 7.0f);
    const std::vector<float>& noise = noise_table();
    float light[width];
    int level8[3][width];
    for (int y = 0; y < height; ++y) {
        const float* row_noise = noise.data() + r.next() % (noise_table_size - 3 * width);
        const float row_light = level + slope_y * static_cast<float>(y - height / 2);
        for (int x = 0; x < width; ++x)
            light[x] = row_light + slope_x * static_cast<float>(x - width / 2);
        for (int c = 0; c < 3; ++c) {
            const float* src = cv.row(c, y);
            const float* n = row_noise + c * width;
            int* dst = level8[c];
            for (int x = 0; x < width; ++x) {
                // Truncation after + 0.5 rounds the non-negative values;
                // negative ones land on 0 or below and are clamped.
                const int v = static_cast<int>(src[x] * light[x] * gain[c] + sigma * n[x] + 0.5f);
                dst[x] = v < 0 ? 0 : v > 255 ? 255 : v;
            }
        }
        std::uint8_t* out = rgb + static_cast<std::size_t>(y) * width * 3;
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < 3; ++c)
                out[3 * x + c] = static_cast<std::uint8_t>(level8[c][x]);
    }
}

}  // namespace

void renderer::render(std::uint64_t seed, std::size_t index, bool smiling, std::uint8_t* rgb) {
    canvas_.resize(image_bytes);
    rng r = stream(seed, index, picture_purpose);
    canvas cv(canvas_.data());
    draw_background(cv, r);
    draw_clutter(cv, r);
    const face f = random_face(r);
    draw_back_hair(cv, f, r);
    draw_body(cv, f, r);
    draw_head(cv, f);
    draw_fringe(cv, f, r);
    draw_eyes(cv, f, r);
    draw_nose(cv, f, r);
    draw_mouth(cv, f, smiling, r);
    develop(cv, rgb, r);
}

// ---- the lists and the files -------------------------------------------------

partition_sizes partition_for(std::size_t count) {
    constexpr std::uint64_t total = 202599;
    const auto share = [&](std::uint64_t part) {
        return static_cast<std::size_t>((static_cast<std::uint64_t>(count) * part + total / 2) / total);
    };
    partition_sizes p;
    p.train = share(162770);
    p.valid = share(19867);
    p.test = count - p.train - p.valid;
    return p;
}

split partition_of(std::size_t index, const partition_sizes& sizes) {
    if (index < sizes.train)
        return split::train;
    if (index < sizes.train + sizes.valid)
        return split::valid;
    return split::test;
}

std::string image_name(std::size_t index) {
    char name[32];
    std::snprintf(name, sizeof name, "%06zu.jpg", index + 1);
    return name;
}

std::string attribute_list(std::uint64_t seed, std::size_t count) {
    std::string text = std::to_string(count) + "\n";
    for (const std::string_view name : attribute_names) {
        text += name;
        text += ' ';
    }
    text += '\n';
    for (std::size_t i = 0; i < count; ++i) {
        text += image_name(i);
        for (const std::int8_t v : attributes(seed, i))
            text += v > 0 ? "  1" : " -1";
        text += '\n';
    }
    return text;
}

std::string partition_list(std::size_t count) {
    const partition_sizes sizes = partition_for(count);
    std::string text;
    for (std::size_t i = 0; i < count; ++i) {
        text += image_name(i);
        text += ' ';
        text += static_cast<char>('0' + static_cast<int>(partition_of(i, sizes)));
        text += '\n';
    }
    return text;
}

namespace {

void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
    errno = 0;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr)
        throw error(path.string() + ": cannot create (" + std::strerror(errno) + ")");
    const bool written = std::fwrite(data, 1, size, f) == size;
    const int saved = errno;
    if (std::fclose(f) != 0 || !written)
        throw error(path.string() + ": cannot write (" + std::strerror(written ? errno : saved) + ")");
}

// Renders, encodes and writes the images whose indices the shared counter
// hands out; returns the JPEG bytes and the smiling count of its share.
struct share {
    std::uintmax_t bytes = 0;
    std::size_t smiling = 0;
};

share write_images(const options& opts, const std::filesystem::path& folder, std::atomic<std::size_t>& next,
                   const std::atomic<bool>& failed) {
    renderer draw;
    jpeg_encoder encoder;
    std::vector<std::uint8_t> pixels(image_bytes);
    std::vector<std::uint8_t> jpeg;
    share done;
    for (std::size_t i = next++; i < opts.count && !failed; i = next++) {
        const bool smiling = is_smiling(attributes(opts.seed, i));
        draw.render(opts.seed, i, smiling, pixels.data());
        encoder.encode(pixels.data(), width, height, opts.quality, jpeg);
        write_file(folder / image_name(i), jpeg.data(), jpeg.size());
        done.bytes += jpeg.size();
        done.smiling += smiling ? 1 : 0;
    }
    return done;
}

}  // namespace

summary write_dataset(const options& opts) {
    if (opts.quality < 1 || opts.quality > 100)
        throw std::invalid_argument("synth: JPEG quality must be 1..100");
    const std::filesystem::path folder = opts.out / images_folder;
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec)
        throw error(folder.string() + ": cannot create (" + ec.message() + ")");

    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mutex;
    std::exception_ptr failure;
    summary result;
    const auto worker = [&] {
        try {
            const share done = write_images(opts, folder, next, failed);
            const std::lock_guard<std::mutex> lock(mutex);
            result.jpeg_bytes += done.bytes;
            result.smiling += done.smiling;
        } catch (...) {
            const std::lock_guard<std::mutex> lock(mutex);
            if (!failure)
                failure = std::current_exception();
            failed = true;
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(std::max(opts.threads, 1U) - 1);
    for (unsigned t = 1; t < std::max(opts.threads, 1U); ++t) {
        try {
            threads.emplace_back(worker);
        } catch (...) {
            break;  // the threads started and this one write every image
        }
    }
    worker();
    for (std::thread& t : threads)
        t.join();
    if (failure)
        std::rethrow_exception(failure);

    // The attribute list comes last, written under a temporary name and
    // renamed: a folder that has it holds a whole data set (the studies
    // reuse such a folder), even when a run was stopped while writing.
    const std::string parts = partition_list(opts.count);
    write_file(opts.out / partition_file, parts.data(), parts.size());
    const std::string attrs = attribute_list(opts.seed, opts.count);
    const std::filesystem::path attrs_path = opts.out / attributes_file;
    std::filesystem::path partial = attrs_path;
    partial += ".partial";
    write_file(partial, attrs.data(), attrs.size());
    std::error_code failed_rename;
    std::filesystem::rename(partial, attrs_path, failed_rename);
    if (failed_rename)
        throw error(attrs_path.string() + ": cannot rename " + partial.string() + " to it (" +
                    failed_rename.message() + ")");
    result.images = opts.count;
    result.partition = partition_for(opts.count);
    return result;
}

}  // namespace logitloss::experiments::celeba::synth
