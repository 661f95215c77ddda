# The CUDA build of the experiments (LOGITLOSS_EXPERIMENTS_CUDA): included by
# the top-level CMakeLists.txt, in its scope, before any directory (tests/,
# bench/, experiments/) calls find_package(Torch). A CUDA LibTorch's package
# enables CUDA itself in the first directory that finds it, with its own
# choice of architectures, so the choices below must come first; the
# top-level directory is also above every target that compiles CUDA code
# (experiments/ops) or links it (experiments/studies).
#
# Architectures: a CUDA LibTorch compiles CUDA code for TORCH_CUDA_ARCH_LIST
# (it sets CMAKE_CUDA_ARCHITECTURES to OFF and adds its own -gencode flags).
# Left unset, it detects the GPU at configure time and, without one, falls
# back to a list that starts at compute 3.5, which nvcc 13 rejects. Default:
# Hopper (H100, H200).
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(TORCH_CUDA_ARCH_LIST "9.0")
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)  # H100, H200; override with -DCMAKE_CUDA_ARCHITECTURES=...
endif()
# LibTorch links the shared CUDA runtime; CMake would add the static one
# (and cudadevrt) to every link that has CUDA objects in it, a second
# runtime in the same process.
if(NOT DEFINED CMAKE_CUDA_RUNTIME_LIBRARY)
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
endif()
enable_language(CUDA)
# CUDA 12.9 and later ship NVTX 3 only (headers, target CUDA::nvtx3); a
# LibTorch package from before it moved to NVTX 3 links CUDA::nvToolsExt,
# which CMake then does not define, and fails to configure. Where that
# target is missing, it names NVTX 3. Defined here, it is seen by every
# directory that finds LibTorch.
find_package(CUDAToolkit REQUIRED)
if(TARGET CUDA::nvtx3 AND NOT TARGET CUDA::nvToolsExt)
    add_library(CUDA::nvToolsExt INTERFACE IMPORTED)
    target_link_libraries(CUDA::nvToolsExt INTERFACE CUDA::nvtx3)
endif()
