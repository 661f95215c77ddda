// One SIMD path of the logitloss::dispatch library. CMake compiles this file
// once per path, with the path's instruction-set flags and
// LOGITLOSS_DISPATCH_PATH set to
//   1  avx512bw  (-mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma)
//   2  avx2_fma  (-mavx2 -mfma)
//   3  sse2      (no flag: baseline x86-64)
//   0  xsimd's default architecture of the build (processors other than x86)
// Each path compiles the header templates under its own LOGITLOSS_ABI_TAG,
// so none of its inline functions can stand in for another path's, and
// exports one function returning its kernel table.
#if !defined(LOGITLOSS_DISPATCH_PATH)
#error "LOGITLOSS_DISPATCH_PATH must be defined (see the file comment)"
#elif LOGITLOSS_DISPATCH_PATH == 1
#define LOGITLOSS_ABI_TAG dispatch_avx512bw
#define LOGITLOSS_DISPATCH_ENTRY logitloss_dispatch_avx512bw
#elif LOGITLOSS_DISPATCH_PATH == 2
#define LOGITLOSS_ABI_TAG dispatch_avx2_fma
#define LOGITLOSS_DISPATCH_ENTRY logitloss_dispatch_avx2_fma
#elif LOGITLOSS_DISPATCH_PATH == 3
#define LOGITLOSS_ABI_TAG dispatch_sse2
#define LOGITLOSS_DISPATCH_ENTRY logitloss_dispatch_sse2
#elif LOGITLOSS_DISPATCH_PATH == 0
#define LOGITLOSS_ABI_TAG dispatch_default
#define LOGITLOSS_DISPATCH_ENTRY logitloss_dispatch_default
#else
#error "unknown LOGITLOSS_DISPATCH_PATH"
#endif

#include <logitloss/kernels.hpp>

namespace {

#if LOGITLOSS_DISPATCH_PATH == 1
using path_arch = xsimd::avx512bw;
constexpr const char* path_name = "avx512bw";
#elif LOGITLOSS_DISPATCH_PATH == 2
using path_arch = xsimd::fma3<xsimd::avx2>;
constexpr const char* path_name = "avx2_fma";
#elif LOGITLOSS_DISPATCH_PATH == 3
using path_arch = xsimd::sse2;
constexpr const char* path_name = "sse2";
#else
using path_arch = xsimd::default_arch;
constexpr const char* path_name = xsimd::default_arch::name();
#endif

static_assert(path_arch::supported(), "this path's instruction-set flags are missing (see the file comment)");

}  // namespace

extern "C" const logitloss::kernel_abi::arch_kernels* LOGITLOSS_DISPATCH_ENTRY() noexcept {
    static constexpr logitloss::kernel_abi::arch_kernels kernels{
        path_name, logitloss::detail::make_kernel_table<path_arch, float>(),
        logitloss::detail::make_kernel_table<path_arch, double>()};
    return &kernels;
}
