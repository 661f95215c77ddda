// The configuration header a CUDA LibTorch generates, for check.cmake's
// compile-only build against a CPU LibTorch (see ../../../../TorchConfig.cmake).
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
