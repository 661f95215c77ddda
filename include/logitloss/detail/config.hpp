// logitloss/detail/config.hpp — the few macros the headers share: host/device
// annotation, forced inlining, and the C++ standard check.
#pragma once

#if !defined(__cplusplus) || (__cplusplus < 201703L && !defined(_MSVC_LANG))
#error "logitloss needs C++17 or later"
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
