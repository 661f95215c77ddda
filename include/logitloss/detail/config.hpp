// logitloss/detail/config.hpp — the few macros the headers share: host/device
// annotation, forced inlining, and the C++ standard and fast-math checks.
#pragma once

// MSVC keeps __cplusplus at 199711L unless /Zc:__cplusplus; _MSVC_LANG is
// its language level.
#if !defined(__cplusplus) || (defined(_MSVC_LANG) ? _MSVC_LANG : __cplusplus) < 201703L
#error "logitloss needs C++17 or later"
#endif

// The bounds, the exact steps (two-sums, Newton residuals, the compensated
// sums) and the value checks need IEEE arithmetic as written. -ffast-math
// and its parts let the compiler reassociate the exact steps away
// (-fassociative-math), replace divisions by reciprocals (-freciprocal-math),
// drop the sign of zero (-fno-signed-zeros) and assume that no NaN or
// infinity occurs (-ffinite-math-only, which deletes the NaN checks): results
// are then silently wrong, not just less accurate. GCC names each of these in
// a macro; Clang 14 only -ffast-math as a whole and -ffinite-math-only;
// MSVC's /fp:fast defines _M_FP_FAST.
// Defining LOGITLOSS_ALLOW_FAST_MATH builds anyway, without those promises.
// (nvcc's --use_fast_math, which flushes subnormals and approximates
// divisions, defines no macro to detect; CUDA code must not be built with it.)
#if !defined(LOGITLOSS_ALLOW_FAST_MATH) &&                                                                  \
    (defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__) ||                   \
     defined(__ASSOCIATIVE_MATH__) || defined(__RECIPROCAL_MATH__) || defined(__NO_SIGNED_ZEROS__) ||        \
     defined(_M_FP_FAST))
#error "logitloss: compiled with -ffast-math or one of its parts (-ffinite-math-only, -fassociative-math, -freciprocal-math, -fno-signed-zeros), or MSVC's /fp:fast, under which its results and input checks do not hold; build without it, or define LOGITLOSS_ALLOW_FAST_MATH to accept that"
#endif

// LOGITLOSS_HD marks a function usable from host code and, under nvcc, from
// CUDA device code. Element-wise formulas and their machinery carry it so the
// same source text is instantiated for scalar, SIMD and CUDA.
#if defined(__CUDACC__)
#define LOGITLOSS_HD __host__ __device__
#else
#define LOGITLOSS_HD
#endif

// True while compiling CUDA device code (the device pass of nvcc).
#if defined(__CUDA_ARCH__)
#define LOGITLOSS_DEVICE_PASS 1
#else
#define LOGITLOSS_DEVICE_PASS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LOGITLOSS_INLINE inline __attribute__((always_inline))
#else
#define LOGITLOSS_INLINE inline
#endif

// LOGITLOSS_ABI_TAG (an identifier, normally undefined): when a translation
// unit defines it before including any logitloss header, the code the
// headers define lives in the inline namespace logitloss::LOGITLOSS_ABI_TAG.
// The public types (value_and_grad; kernels.hpp's reduction, span, options,
// error_kind and error; kernel_abi) stay in logitloss itself, so that
// translation units with different tags share them: an error thrown under
// one is caught as logitloss::error under another. (cuda.cuh's types are
// tagged: a namespace logitloss::cuda both inside and outside the tag would
// make logitloss::cuda ambiguous.)
// Inline functions compiled with different instruction-set flags (-mavx2,
// -mavx512f, ...) are then different symbols, and the linker cannot keep the
// AVX-512 copy of a function for a caller compiled for baseline x86-64. The
// runtime-dispatch library compiles each of its paths under its own tag; a
// program that compiles its own translation units with different -m flags
// should do the same. Source code spells names as logitloss::x either way.
#if defined(LOGITLOSS_ABI_TAG)
#define LOGITLOSS_NAMESPACE_BEGIN \
    namespace logitloss {         \
    inline namespace LOGITLOSS_ABI_TAG {
#define LOGITLOSS_NAMESPACE_END \
    }                           \
    }
#else
#define LOGITLOSS_NAMESPACE_BEGIN namespace logitloss {
#define LOGITLOSS_NAMESPACE_END }
#endif
