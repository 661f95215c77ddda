// Eigen adapters: vectors, arrays, both storage orders, blocks, strided maps
// and expressions give the same results as the pointer kernels.
#include <doctest/doctest.h>

#include <random>
#include <type_traits>
#include <vector>

#include <logitloss/eigen.hpp>

namespace ll = logitloss;

namespace {

template <class M>
void fill(M& m, std::uint32_t seed, bool target) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.f, 5.f);
    for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c)
            m(r, c) = target ? static_cast<float>(rng() % 2) : n(rng);
}

}  // namespace

TEST_CASE("vectors: in place, same as the pointer kernels") {
    Eigen::VectorXf x(101), y(101), g;
    fill(x, 1, false);
    fill(y, 2, true);
    std::vector<float> gp(101);
    const float ref = ll::bce_with_logits_forward_backward(x.data(), y.data(), 101, gp.data());
    CHECK(ll::bce_with_logits_forward_backward(x, y, g) == ref);
    REQUIRE(g.size() == 101);
    for (int i = 0; i < 101; ++i) CHECK(g(i) == gp[static_cast<std::size_t>(i)]);
    CHECK(ll::bce_with_logits_forward(x.array(), y.array()) == ref);
    // Row vectors and a row of a matrix (strided in column-major storage).
    Eigen::RowVectorXf xr = x.transpose(), yr = y.transpose();
    CHECK(ll::bce_with_logits_forward(xr, yr) == ref);
    Eigen::MatrixXf m(3, 101);
    m.row(1) = xr;
    Eigen::RowVectorXf gr(101);
    CHECK(ll::bce_with_logits_forward_backward(m.row(1), yr, gr) == ref);
    for (int i = 0; i < 101; ++i) CHECK(gr(i) == gp[static_cast<std::size_t>(i)]);
    // A strided gradient output is written through a temporary.
    Eigen::MatrixXf gm = Eigen::MatrixXf::Zero(3, 101);
    CHECK(ll::bce_with_logits_forward_backward(xr, yr, gm.row(2)) == ref);
    for (int i = 0; i < 101; ++i) CHECK(gm(2, i) == gp[static_cast<std::size_t>(i)]);
    CHECK(gm.row(0).isZero());
}

// options' spans are read row by row: a column-major matrix or array does
// not convert to one (its data() is column by column, a silent
// transposition of the weights); vectors and row-major objects do.
using RowMajorArray = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
static_assert(!std::is_constructible<ll::span<const float>, const Eigen::ArrayXXf&>::value, "column-major");
static_assert(!std::is_constructible<ll::span<float>, Eigen::MatrixXf&>::value, "column-major");
static_assert(!std::is_constructible<ll::span<const float>, const Eigen::Matrix2f&>::value, "column-major, fixed");
static_assert(std::is_constructible<ll::span<const float>, const RowMajorArray&>::value, "row-major");
static_assert(std::is_constructible<ll::span<const float>, const Eigen::ArrayXf&>::value, "column vector");
static_assert(std::is_constructible<ll::span<float>, Eigen::RowVectorXf&>::value, "row vector");
static_assert(std::is_constructible<ll::span<const float>, const std::vector<float>&>::value, "std::vector");
// Views with an inner stride do not convert either; those without do.
using ColumnMajorRow = decltype(std::declval<Eigen::MatrixXf&>().row(0));
using RowMajorColumn = decltype(std::declval<RowMajorArray&>().col(0));
using RowMajorRow = decltype(std::declval<RowMajorArray&>().row(0));
using ColumnMajorColumn = decltype(std::declval<Eigen::MatrixXf&>().col(0));
using StridedMap = Eigen::Map<Eigen::VectorXf, 0, Eigen::InnerStride<2>>;
static_assert(!std::is_constructible<ll::span<float>, ColumnMajorRow&>::value, "a row of a column-major matrix");
static_assert(!std::is_constructible<ll::span<float>, RowMajorColumn&>::value, "a column of a row-major array");
static_assert(!std::is_constructible<ll::span<float>, StridedMap&>::value, "an inner stride");
static_assert(std::is_constructible<ll::span<float>, RowMajorRow&>::value, "a row of a row-major array");
static_assert(std::is_constructible<ll::span<float>, ColumnMajorColumn&>::value, "a column of a column-major matrix");

TEST_CASE("span from a row-major block: whole rows convert, a part of the rows throws") {
    RowMajorArray w(4, 3);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(i);
    auto rows = w.middleRows(1, 2);
    const ll::span<float> s(rows);
    CHECK(s.data() == w.data() + 3);
    CHECK(s.size() == 6u);
    auto corner = w.topLeftCorner(2, 2);
    CHECK_THROWS_AS((void)ll::span<float>{corner}, std::invalid_argument);
    auto one_row = w.topLeftCorner(1, 2);  // one row: its elements are next to each other
    CHECK(ll::span<float>(one_row).size() == 2u);
    Eigen::Map<RowMajorArray, 0, Eigen::OuterStride<>> strided(w.data(), 2, 2, Eigen::OuterStride<>(3));
    CHECK_THROWS_WITH_AS((void)ll::span<float>{strided},
                         doctest::Contains("rows of this matrix are not next to each other"), std::invalid_argument);
}

TEST_CASE("matrices: coordinates pair up whatever the storage order; pos_weight per column") {
    using RowMajor = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMajor x(40, 3), y(40, 3);
    fill(x, 3, false);
    fill(y, 4, true);
    Eigen::ArrayXXf xc = x, yc = y;  // column-major copies
    const std::vector<float> pw = {0.5f, 1.f, 4.f};
    ll::options<float> o;
    o.pos_weight = ll::span<const float>(pw);
    o.reduce = ll::reduction::sum;
    std::vector<float> gp(120);
    const float ref = ll::bce_with_logits_forward_backward(x.data(), y.data(), 120, gp.data(), o);
    Eigen::ArrayXXf gc;
    CHECK(ll::bce_with_logits_forward_backward(xc, yc, gc, o) == ref);
    CHECK(ll::bce_with_logits_forward_backward(x, yc, gc, o) == ref);
    RowMajor gr;
    CHECK(ll::bce_with_logits_forward_backward(xc, y, gr, o) == ref);
    for (Eigen::Index r = 0; r < 40; ++r)
        for (Eigen::Index c = 0; c < 3; ++c) {
            CHECK(gc(r, c) == gp[static_cast<std::size_t>(r * 3 + c)]);
            CHECK(gr(r, c) == gp[static_cast<std::size_t>(r * 3 + c)]);
        }
    // An expression is evaluated first.
    CHECK(ll::bce_with_logits_forward(xc * 1.f, yc, o) == ref);
    // Strided map over every other element.
    std::vector<float> wide(240);
    Eigen::Map<Eigen::ArrayXf, 0, Eigen::InnerStride<2>> strided(wide.data(), 120);
    Eigen::ArrayXf xv = Eigen::Map<const Eigen::ArrayXf>(x.data(), 120);
    Eigen::ArrayXf yv = Eigen::Map<const Eigen::ArrayXf>(y.data(), 120);
    strided = xv;
    CHECK(ll::bce_with_logits_forward(strided, yv, o) == ref);
}

TEST_CASE("probabilities, sigmoid, softplus, log_sigmoid, sigmoid_backward and shape errors") {
    Eigen::ArrayXd p = (Eigen::ArrayXd::LinSpaced(50, -3, 3).exp() + 1).inverse();
    Eigen::ArrayXd y = Eigen::ArrayXd::Constant(50, 1.0);
    Eigen::ArrayXd g;
    std::vector<double> gp(50);
    const double ref = ll::bce_forward_backward(p.data(), y.data(), 50, gp.data());
    CHECK(ll::bce_forward_backward(p, y, g) == ref);
    CHECK(ll::bce_forward(p, y) == ref);
    for (int i = 0; i < 50; ++i) CHECK(g(i) == gp[static_cast<std::size_t>(i)]);
    Eigen::ArrayXd s;
    ll::sigmoid(p, s);
    for (int i = 0; i < 50; ++i) CHECK(s(i) == ll::sigmoid(p(i)));
    // softplus and log_sigmoid: a column-major matrix of logits, the result
    // in a row-major one (coordinates pair up).
    Eigen::MatrixXf x = Eigen::MatrixXf::Random(7, 5) * 40.f;
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> out;
    ll::softplus(x, out);
    for (Eigen::Index r = 0; r < 7; ++r)
        for (Eigen::Index c = 0; c < 5; ++c) CHECK(out(r, c) == ll::softplus(x(r, c)));
    ll::log_sigmoid(x.transpose(), out);
    CHECK(out.rows() == 5);
    for (Eigen::Index r = 0; r < 5; ++r)
        for (Eigen::Index c = 0; c < 7; ++c) CHECK(out(r, c) == ll::log_sigmoid(x(c, r)));
    Eigen::Matrix2f fixed;
    CHECK_THROWS_AS(ll::softplus(x, fixed), ll::error);
    // sigmoid_backward: x column-major, grad_out an expression, the result
    // resized; then in place into grad_out's own storage.
    const Eigen::MatrixXf upstream = Eigen::MatrixXf::Random(7, 5);
    Eigen::MatrixXf back;
    ll::sigmoid_backward(x, upstream * 2.f, back);
    REQUIRE(back.rows() == 7);
    for (Eigen::Index r = 0; r < 7; ++r)
        for (Eigen::Index c = 0; c < 5; ++c) CHECK(back(r, c) == ll::sigmoid_backward(x(r, c), 2.f * upstream(r, c)));
    Eigen::VectorXf xv = x.col(0), gv = upstream.col(0);
    ll::sigmoid_backward(xv, gv, gv);
    for (Eigen::Index r = 0; r < 7; ++r) CHECK(gv(r) == ll::sigmoid_backward(x(r, 0), upstream(r, 0)));
    CHECK_THROWS_AS(ll::sigmoid_backward(x, upstream.transpose(), back), ll::error);
    Eigen::ArrayXd short_y = Eigen::ArrayXd::Zero(49);
    CHECK_THROWS_AS((void)ll::bce_forward(p, short_y), ll::error);
    Eigen::ArrayXXd wrong(5, 10);
    CHECK_THROWS_AS((void)ll::bce_with_logits_forward_backward(p, y, wrong.block(0, 0, 5, 9)), ll::error);
}

TEST_CASE("outputs: resized only after the kernel succeeds; a shape they cannot take is size_mismatch") {
    Eigen::ArrayXXf x(3, 2), y(3, 2);
    fill(x, 3, false);
    fill(y, 4, true);
    const auto kind_of = [](auto&& call) {
        try {
            call();
        } catch (const ll::error& e) {
            return static_cast<int>(e.kind());
        }
        return -1;
    };
    // Bad input: the gradient keeps its shape and contents.
    Eigen::ArrayXXf bad_y = y;
    bad_y(2, 1) = 2.f;
    Eigen::ArrayXXf g = Eigen::ArrayXXf::Constant(1, 1, 7.f);
    CHECK(kind_of([&] { ll::bce_with_logits_forward_backward(x, bad_y, g); }) ==
          static_cast<int>(ll::error_kind::target_out_of_range));
    REQUIRE(g.rows() == 1);
    REQUIRE(g.cols() == 1);
    CHECK(g(0, 0) == 7.f);
    Eigen::ArrayXf s = Eigen::ArrayXf::Constant(4, 7.f);  // probabilities out of range
    Eigen::ArrayXf p = Eigen::ArrayXf::Constant(6, 0.5f), t = Eigen::ArrayXf::Constant(6, 1.f);
    p(5) = -1.f;
    CHECK(kind_of([&] { ll::bce_forward_backward(p, t, s); }) ==
          static_cast<int>(ll::error_kind::probability_out_of_range));
    CHECK(s.size() == 4);
    CHECK((s == 7.f).all());
    // Good input: resized, the same values as an output of the right shape.
    Eigen::ArrayXXf right(3, 2);
    const float want = ll::bce_with_logits_forward_backward(x, y, right);
    CHECK(ll::bce_with_logits_forward_backward(x, y, g) == want);
    REQUIRE(g.rows() == 3);
    REQUIRE(g.cols() == 2);
    CHECK((g == right).all());
    Eigen::Array<float, Eigen::Dynamic, 2> fixed_cols(1, 2);  // rows dynamic: resizable to 3x2
    ll::bce_with_logits_forward_backward(x, y, fixed_cols);
    CHECK((fixed_cols == right).all());
    // Row-major and vector outputs: the kernel writes the new object itself.
    Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major(5, 5);
    CHECK(ll::bce_with_logits_forward_backward(x, y, row_major) == want);
    REQUIRE(row_major.rows() == 3);
    CHECK((row_major == right).all());
    p(5) = 0.25f;
    Eigen::ArrayXf s_right(6);
    const float bce_want = ll::bce_forward_backward(p, t, s_right);
    CHECK(ll::bce_forward_backward(p, t, s) == bce_want);
    REQUIRE(s.size() == 6);
    CHECK((s == s_right).all());
    // Shapes the output cannot take: size_mismatch, not Eigen's assertion.
    Eigen::Array<float, 2, 2> fixed;
    CHECK(kind_of([&] { ll::bce_with_logits_forward_backward(x, y, fixed); }) ==
          static_cast<int>(ll::error_kind::size_mismatch));
    Eigen::VectorXf column(6);
    CHECK(kind_of([&] { ll::bce_with_logits_forward_backward(x, y, column); }) ==
          static_cast<int>(ll::error_kind::size_mismatch));
    Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, 0, 2, 2> bounded;  // at most 2x2
    CHECK(kind_of([&] { ll::sigmoid(x, bounded); }) == static_cast<int>(ll::error_kind::size_mismatch));
}
