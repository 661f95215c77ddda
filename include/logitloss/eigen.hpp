// logitloss/eigen.hpp — the array kernels on Eigen 3.4 arrays, matrices,
// vectors, blocks, maps and expressions.
//
// Element correspondence is by coordinates: logits(r, c) pairs with
// targets(r, c) and gives grad(r, c), whatever each operand's storage order.
// Internally the kernels see the elements in row-major order (r * cols + c),
// which is also the order of the spans in options: weight and
// options.losses (reduction::none) hold rows * cols elements in row-major
// order, and a pos_weight of C values applies to column c of an N x C
// operand, as PyTorch's pos_weight applies to the classes of an (N, C)
// tensor. For vectors the order is simply the vector's.
//
// Copies: an operand already laid out contiguously in that order (any
// vector with unit stride, a row-major matrix, a column-major matrix with one
// column) is used in place. Any other operand (column-major matrices,
// strided blocks and maps, unevaluated expressions) is first evaluated into a
// contiguous row-major temporary; a gradient output that is not contiguous
// is computed into a temporary and assigned back. Results are identical
// either way. Shape mismatches throw logitloss::error (size_mismatch).
//
// Outputs: a plain object (Array, Matrix, Vector) of another shape is
// resized, where its compile-time sizes allow the operands' shape, and only
// after the kernel has succeeded: the result is computed into a new object
// of that shape, swapped in, so on bad input the output keeps its shape and
// contents ("nothing is written on error"). One that cannot take the shape (a fixed 2x2 for 3x2
// operands, a column vector for a matrix) and any other output of another
// shape throw size_mismatch.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "kernels.hpp"

LOGITLOSS_NAMESPACE_BEGIN
namespace detail {

template <class D>
using eigen_scalar_t = typename Eigen::internal::traits<std::decay_t<D>>::Scalar;

// Whether x (with direct access) is contiguous in row-major order.
template <class D>
bool eigen_row_major_contiguous(const Eigen::DenseBase<D>& x) {
    if constexpr ((int(D::Flags) & Eigen::DirectAccessBit) != 0) {
        return span_detail::row_major_contiguous(x.derived());
    } else {
        return false;
    }
}

// A read-only row-major view of x: its own memory when contiguous in that
// order, otherwise a copy.
template <class T>
class eigen_input {
public:
    template <class D>
    explicit eigen_input(const Eigen::DenseBase<D>& x) {
        static_assert(std::is_same<eigen_scalar_t<D>, T>::value, "operands must share one scalar type");
        if constexpr ((int(D::Flags) & Eigen::DirectAccessBit) != 0) {
            if (eigen_row_major_contiguous(x)) {
                data_ = x.derived().data();
                return;
            }
        }
        copy_.resize(static_cast<std::size_t>(x.size()));
        Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(copy_.data(), x.rows(),
                                                                                     x.cols());
        if constexpr (std::is_base_of<Eigen::ArrayBase<D>, D>::value)
            m = x.derived();
        else
            m = x.derived().array();
        data_ = copy_.data();
    }
    [[nodiscard]] const T* data() const noexcept { return data_; }

private:
    const T* data_ = nullptr;
    std::vector<T> copy_;
};

template <class DA, class DB>
void eigen_same_shape(const char* fn, const char* what, const Eigen::DenseBase<DA>& a, const Eigen::DenseBase<DB>& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols())
        fail(error_kind::size_mismatch, static_cast<std::size_t>(b.size()), fn,
             std::string(what) + " is " + std::to_string(b.rows()) + "x" + std::to_string(b.cols()) + ", logits are " +
                 std::to_string(a.rows()) + "x" + std::to_string(a.cols()));
}

// Whether a plain object of type GD can be resized to rows x cols: its
// compile-time sizes (fixed, or a maximum) allow it. Eigen asserts, not
// throws, on a resize they do not.
template <class GD>
bool eigen_can_take_shape(Eigen::Index rows, Eigen::Index cols) noexcept {
    constexpr Eigen::Index R = GD::RowsAtCompileTime, C = GD::ColsAtCompileTime;
    constexpr Eigen::Index MR = GD::MaxRowsAtCompileTime, MC = GD::MaxColsAtCompileTime;
    const bool rows_ok = R == Eigen::Dynamic ? (MR == Eigen::Dynamic || rows <= MR) : rows == R;
    const bool cols_ok = C == Eigen::Dynamic ? (MC == Eigen::Dynamic || cols <= MC) : cols == C;
    return rows_ok && cols_ok;
}

// Runs kernel(x, y, n, out_ptr) into `out`, which has x's shape: directly
// where out's layout is the kernels' (row-major contiguous), else into a
// row-major buffer assigned to out once the kernel has returned.
template <class T, class O, class K>
T eigen_run_into(O& out, K& kernel, const eigen_input<T>& xi, const eigen_input<T>& yi, Eigen::Index rows,
                 Eigen::Index cols) {
    using OD = std::decay_t<O>;
    const auto n = static_cast<std::size_t>(rows * cols);
    if constexpr ((int(OD::Flags) & Eigen::DirectAccessBit) != 0 && (int(OD::Flags) & Eigen::LvalueBit) != 0) {
        if (eigen_row_major_contiguous(out)) return kernel(xi.data(), yi.data(), n, out.derived().data());
    }
    std::vector<T> buf(n);
    const T r = kernel(xi.data(), yi.data(), n, buf.data());
    Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(buf.data(), rows, cols);
    if constexpr (std::is_base_of<Eigen::ArrayBase<OD>, OD>::value)
        out = m;
    else
        out = m.matrix();
    return r;
}

// Runs kernel(x, y, n, grad_ptr) and delivers the gradient into `grad`. A
// plain object of another shape that can take x's shape gets it once the
// kernel has returned: the kernel's result goes into a new object of that
// shape, swapped in, so that a kernel that throws leaves `grad` as it was.
template <class T, class DX, class G, class K>
T eigen_with_grad(const char* fn, const Eigen::DenseBase<DX>& x, G& grad, K kernel, const eigen_input<T>& xi,
                  const eigen_input<T>& yi) {
    using GD = std::decay_t<G>;
    if constexpr (std::is_base_of<Eigen::PlainObjectBase<GD>, GD>::value) {
        if ((grad.rows() != x.rows() || grad.cols() != x.cols()) && eigen_can_take_shape<GD>(x.rows(), x.cols())) {
            GD fresh;
            fresh.resize(x.rows(), x.cols());
            const T r = eigen_run_into(fresh, kernel, xi, yi, x.rows(), x.cols());
            grad.swap(fresh);
            return r;
        }
    }
    eigen_same_shape(fn, "the gradient output", x, grad);
    return eigen_run_into(grad, kernel, xi, yi, x.rows(), x.cols());
}

}  // namespace detail

// Reduced BCE-with-logits loss of Eigen operands of equal shape.
template <class Arch = xsimd::default_arch, class DX, class DY, class T = detail::eigen_scalar_t<DX>>
[[nodiscard]] T bce_with_logits_forward(const Eigen::DenseBase<DX>& logits, const Eigen::DenseBase<DY>& targets,
                                        const options<T>& opt = {}) {
    detail::eigen_same_shape("bce_with_logits_forward", "targets", logits, targets);
    const detail::eigen_input<T> x(logits), y(targets);
    return bce_with_logits_forward<Arch>(x.data(), y.data(), static_cast<std::size_t>(logits.size()), opt);
}

// Loss and d(loss)/d(logits) into grad_logits (same shape; a plain object
// that can take it is resized to it, after the kernel has succeeded).
template <class Arch = xsimd::default_arch, class DX, class DY, class G, class T = detail::eigen_scalar_t<DX>>
T bce_with_logits_forward_backward(const Eigen::DenseBase<DX>& logits, const Eigen::DenseBase<DY>& targets,
                                   G&& grad_logits, const options<T>& opt = {}) {
    static_assert(std::is_base_of<Eigen::DenseBase<std::decay_t<G>>, std::decay_t<G>>::value,
                  "grad_logits must be a writable Eigen object");
    const char* fn = "bce_with_logits_forward_backward";
    detail::eigen_same_shape(fn, "targets", logits, targets);
    const detail::eigen_input<T> x(logits), y(targets);
    return detail::eigen_with_grad<T>(
        fn, logits, grad_logits,
        [&](const T* xp, const T* yp, std::size_t n, T* g) {
            return bce_with_logits_forward_backward<Arch>(xp, yp, n, g, opt);
        },
        x, y);
}

// PyTorch BCELoss on Eigen probabilities and targets of equal shape.
template <class Arch = xsimd::default_arch, class DP, class DY, class T = detail::eigen_scalar_t<DP>>
[[nodiscard]] T bce_forward(const Eigen::DenseBase<DP>& probabilities, const Eigen::DenseBase<DY>& targets,
                            const options<T>& opt = {}) {
    detail::eigen_same_shape("bce_forward", "targets", probabilities, targets);
    const detail::eigen_input<T> p(probabilities), y(targets);
    return bce_forward<Arch>(p.data(), y.data(), static_cast<std::size_t>(probabilities.size()), opt);
}

// BCELoss and d(loss)/d(probabilities) into grad_probabilities.
template <class Arch = xsimd::default_arch, class DP, class DY, class G, class T = detail::eigen_scalar_t<DP>>
T bce_forward_backward(const Eigen::DenseBase<DP>& probabilities, const Eigen::DenseBase<DY>& targets,
                       G&& grad_probabilities, const options<T>& opt = {}) {
    static_assert(std::is_base_of<Eigen::DenseBase<std::decay_t<G>>, std::decay_t<G>>::value,
                  "grad_probabilities must be a writable Eigen object");
    const char* fn = "bce_forward_backward";
    detail::eigen_same_shape(fn, "targets", probabilities, targets);
    const detail::eigen_input<T> p(probabilities), y(targets);
    return detail::eigen_with_grad<T>(
        fn, probabilities, grad_probabilities,
        [&](const T* pp, const T* yp, std::size_t n, T* g) { return bce_forward_backward<Arch>(pp, yp, n, g, opt); },
        p, y);
}

namespace detail {
// out = f(x) element-wise through the array function map(x, n, out).
template <class T, class DX, class G, class M>
void eigen_map(const char* fn, const Eigen::DenseBase<DX>& x, G& out, M map) {
    static_assert(std::is_base_of<Eigen::DenseBase<std::decay_t<G>>, std::decay_t<G>>::value,
                  "out must be a writable Eigen object");
    const eigen_input<T> xi(x);
    eigen_with_grad<T>(
        fn, x, out,
        [&](const T* xp, const T*, std::size_t n, T* o) {
            map(xp, n, o);
            return T(0);
        },
        xi, xi);
}
}  // namespace detail

// out = sigmoid(x), softplus(x), log_sigmoid(x), element-wise (out: same
// shape; a plain object is resized).
template <class Arch = xsimd::default_arch, class DX, class G, class T = detail::eigen_scalar_t<DX>>
void sigmoid(const Eigen::DenseBase<DX>& x, G&& out) {
    detail::eigen_map<T>("sigmoid", x, out, [](const T* xp, std::size_t n, T* o) { sigmoid<Arch>(xp, n, o); });
}
template <class Arch = xsimd::default_arch, class DX, class G, class T = detail::eigen_scalar_t<DX>>
void softplus(const Eigen::DenseBase<DX>& x, G&& out) {
    detail::eigen_map<T>("softplus", x, out, [](const T* xp, std::size_t n, T* o) { softplus<Arch>(xp, n, o); });
}
template <class Arch = xsimd::default_arch, class DX, class G, class T = detail::eigen_scalar_t<DX>>
void log_sigmoid(const Eigen::DenseBase<DX>& x, G&& out) {
    detail::eigen_map<T>("log_sigmoid", x, out, [](const T* xp, std::size_t n, T* o) { log_sigmoid<Arch>(xp, n, o); });
}

// grad_in = grad_out * sigmoid'(x), element-wise: sigmoid's backward from
// its input (grad_out: x's shape; grad_in: the same, a plain object is
// resized).
template <class Arch = xsimd::default_arch, class DX, class DG, class G, class T = detail::eigen_scalar_t<DX>>
void sigmoid_backward(const Eigen::DenseBase<DX>& x, const Eigen::DenseBase<DG>& grad_out, G&& grad_in) {
    static_assert(std::is_base_of<Eigen::DenseBase<std::decay_t<G>>, std::decay_t<G>>::value,
                  "grad_in must be a writable Eigen object");
    const char* fn = "sigmoid_backward";
    detail::eigen_same_shape(fn, "grad_out", x, grad_out);
    const detail::eigen_input<T> xi(x), gi(grad_out);
    detail::eigen_with_grad<T>(
        fn, x, grad_in,
        [](const T* xp, const T* gp, std::size_t n, T* o) {
            sigmoid_backward<Arch>(xp, gp, n, o);
            return T(0);
        },
        xi, gi);
}

LOGITLOSS_NAMESPACE_END
