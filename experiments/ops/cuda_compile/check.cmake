# experiments_cuda_compile: configures the experiments with
# LOGITLOSS_EXPERIMENTS_CUDA=ON against this machine's CPU LibTorch,
# presented as a CUDA one (TorchConfig.cmake here), and compiles, without
# linking, every translation unit whose code differs in the CUDA build:
# ops_cuda.cu (nvcc), ops.cpp and studies/common.cpp. It checks the CMake
# code and the CUDA branches of the sources, warnings as errors, where no
# CUDA LibTorch is installed, and that no link line adds the static CUDA
# runtime. With TESTS=ON the tests are configured too (the outer build's
# setting: their dependencies are there): tests/ finds LibTorch before
# experiments/ does, so the CUDA choices (cmake/logitlossTorchCuda.cmake)
# must already be made when it does.
#
#   cmake -DSOURCE=<repo> -DBINARY=<dir> -DREAL_TORCH_DIR=<Torch_DIR> -DNVCC=<nvcc>
#         -DCMAKE_MAKE_PROGRAM=<ninja> -DTESTS=ON|OFF [-DPREFIX_PATH=<dir>|<dir>...] -P check.cmake
# (Ninja, whose targets include the object files.)
foreach(v SOURCE BINARY REAL_TORCH_DIR NVCC CMAKE_MAKE_PROGRAM TESTS)
    if(NOT DEFINED ${v})
        message(FATAL_ERROR "check.cmake needs -D${v}=...")
    endif()
endforeach()

string(REPLACE "|" ";" PREFIX_PATH "${PREFIX_PATH}")
file(REMOVE_RECURSE "${BINARY}")
execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" -G Ninja -DCMAKE_BUILD_TYPE=Release
            "-DLOGITLOSS_BUILD_TESTS=${TESTS}" -DLOGITLOSS_BUILD_FUZZ=OFF -DLOGITLOSS_BUILD_BENCH=OFF
            -DLOGITLOSS_BUILD_EXAMPLES=OFF "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}"
            -DLOGITLOSS_BUILD_EXPERIMENTS=ON -DLOGITLOSS_EXPERIMENTS_CUDA=ON
            "-DCMAKE_CUDA_COMPILER=${NVCC}" "-DTorch_DIR=${CMAKE_CURRENT_LIST_DIR}"
            "-DCMAKE_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
            "-DLOGITLOSS_REAL_TORCH_DIR=${REAL_TORCH_DIR}"
    RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "configuring the CUDA build failed (${status})")
endif()

# One CUDA runtime in the process: LibTorch's shared one, never CMake's
# default static runtime beside it.
file(READ "${BINARY}/build.ninja" ninja)
if(ninja MATCHES "cudart_static")
    message(FATAL_ERROR "a link line names the static CUDA runtime (cudart_static) beside LibTorch's shared one")
endif()

set(objects
    experiments/ops/CMakeFiles/logitloss_torch_ops.dir/ops_cuda.cu.o
    experiments/ops/CMakeFiles/logitloss_torch_ops.dir/ops.cpp.o
    experiments/studies/CMakeFiles/logitloss_experiments.dir/common.cpp.o)
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY}" --target ${objects} RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "compiling the CUDA build's translation units failed (${status})")
endif()
foreach(o IN LISTS objects)
    if(NOT EXISTS "${BINARY}/${o}")
        message(FATAL_ERROR "${o} was not built")
    endif()
endforeach()
message(STATUS "the CUDA build configures and its CUDA translation units compile")
