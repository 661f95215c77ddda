// logitloss/dispatch.hpp — the array kernels with the SIMD path chosen at run
// time, for programs compiled for baseline x86-64 (no -march flag). Needs
// the compiled library logitloss::dispatch (CMake target; a static library
// built from src/), which holds every path compiled with its own
// instruction-set flags:
//
//   avx512bw   AVX-512 F/CD/DQ/BW/VL and FMA (16 floats / 8 doubles per batch)
//   avx2_fma   AVX2 and FMA (8 / 4)
//   sse2       baseline x86-64 (4 / 2; no fused multiply-add)
//
// On other processors the library holds one path, xsimd's default
// architecture of its build. The widest path that the CPU and the operating
// system support is chosen on the first call; the environment variable
// LOGITLOSS_SIMD (a path name) or use_path() choose another. A
// LOGITLOSS_SIMD naming no available path makes every function throw
// std::runtime_error (path() returns "") until use_path() chooses one.
//
// The functions have the meaning, options, checks and errors of the
// templates in kernels.hpp. Results: the avx512bw and avx2_fma paths give
// the same bits as each other, as the header templates compiled for either,
// and as the scalar formulas (sums and means included, for every thread
// count). The sse2 path rounds the a*b+c of its polynomials twice (no FMA
// instruction), so its results may differ from the others'; it meets the
// same accuracy bounds.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels.hpp"

#if defined(LOGITLOSS_ABI_TAG)
#error "logitloss/dispatch.hpp declares the logitloss::dispatch library, built without LOGITLOSS_ABI_TAG"
#endif

namespace logitloss {
namespace dispatch {

[[nodiscard]] float bce_with_logits_forward(const float* logits, const float* targets, std::size_t n,
                                            const options<float>& opt = {});
[[nodiscard]] double bce_with_logits_forward(const double* logits, const double* targets, std::size_t n,
                                             const options<double>& opt = {});
float bce_with_logits_forward_backward(const float* logits, const float* targets, std::size_t n, float* grad_logits,
                                       const options<float>& opt = {});
double bce_with_logits_forward_backward(const double* logits, const double* targets, std::size_t n,
                                        double* grad_logits, const options<double>& opt = {});

[[nodiscard]] float bce_forward(const float* probabilities, const float* targets, std::size_t n,
                                const options<float>& opt = {});
[[nodiscard]] double bce_forward(const double* probabilities, const double* targets, std::size_t n,
                                 const options<double>& opt = {});
float bce_forward_backward(const float* probabilities, const float* targets, std::size_t n,
                           float* grad_probabilities, const options<float>& opt = {});
double bce_forward_backward(const double* probabilities, const double* targets, std::size_t n,
                            double* grad_probabilities, const options<double>& opt = {});

void sigmoid(const float* x, std::size_t n, float* out);
void sigmoid(const double* x, std::size_t n, double* out);
void sigmoid_backward(const float* x, const float* grad_out, std::size_t n, float* grad_in);
void sigmoid_backward(const double* x, const double* grad_out, std::size_t n, double* grad_in);
void softplus(const float* x, std::size_t n, float* out);
void softplus(const double* x, std::size_t n, double* out);
void log_sigmoid(const float* x, std::size_t n, float* out);
void log_sigmoid(const double* x, std::size_t n, double* out);

// The name of the path the functions above use now.
[[nodiscard]] const char* path() noexcept;

// The paths compiled into the library that this CPU and operating system
// can run, widest first.
[[nodiscard]] std::vector<std::string> available_paths();

// Uses path `name` from now on, for every thread; "" selects the widest
// available path. Returns false, and changes nothing, when `name` is not
// an available path. Not meant to be called while kernels run on other
// threads (a call already running finishes on the path it started with).
bool use_path(const std::string& name);

}  // namespace dispatch
}  // namespace logitloss
