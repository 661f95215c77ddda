# A CPU LibTorch presented as a CUDA one, so that the CUDA build of the
# experiments can be configured and its CUDA translation units compiled (not
# linked) on a machine with nvcc but without a CUDA LibTorch (check.cmake).
# It loads the real package from LOGITLOSS_REAL_TORCH_DIR, then does what a
# CUDA LibTorch's package does that our CMake code depends on:
# - enables CUDA, sets CMAKE_CUDA_ARCHITECTURES to OFF and adds -gencode
#   flags for TORCH_CUDA_ARCH_LIST to CMAKE_CUDA_FLAGS, with the two
#   language flags torch's cmake/public/cuda.cmake adds there as well
#   (--expt-relaxed-constexpr, --expt-extended-lambda; its -Xcudafe
#   --diag_suppress list is left out, so that no warning is hidden here);
# - defines the c10_cuda target (by which ops/CMakeLists.txt tells a CUDA
#   LibTorch) and links it through TORCH_LIBRARIES;
# - provides c10/cuda/impl/cuda_cmake_macros.h, which a CUDA LibTorch
#   generates and a CPU one's c10/cuda headers include without shipping it.
include("${LOGITLOSS_REAL_TORCH_DIR}/TorchConfig.cmake")

enable_language(CUDA)
set(CMAKE_CUDA_ARCHITECTURES OFF)
if(NOT DEFINED TORCH_CUDA_ARCH_LIST)
    message(FATAL_ERROR "TORCH_CUDA_ARCH_LIST is not set: a CUDA LibTorch would detect the GPU or fall back "
                        "to architectures nvcc 13 rejects (cmake/logitlossTorchCuda.cmake sets it)")
endif()
string(APPEND CMAKE_CUDA_FLAGS " --expt-relaxed-constexpr --expt-extended-lambda")
foreach(arch IN LISTS TORCH_CUDA_ARCH_LIST)
    string(REPLACE "." "" arch "${arch}")
    string(APPEND CMAKE_CUDA_FLAGS " -gencode arch=compute_${arch},code=sm_${arch}")
endforeach()

if(NOT TARGET c10_cuda)
    add_library(c10_cuda INTERFACE IMPORTED)
    set_target_properties(c10_cuda PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/include")
endif()
list(APPEND TORCH_LIBRARIES c10_cuda)
