// logitloss/logitloss.hpp — everything that needs only the standard library
// and xsimd: element-wise formulas (scalar and xsimd batches), array kernels
// and saturation diagnostics. Eigen adapters (eigen.hpp), CUDA kernels
// (cuda.cuh) and the testing helpers are included separately.
#pragma once

#include "version.hpp"
#include "detail/ops_xsimd.hpp"
#include "formulas.hpp"
#include "kernels.hpp"
#include "diagnostics.hpp"
