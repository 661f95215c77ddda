// tests/cuda_emulation/cuda_runtime.h — the part of the CUDA runtime and of
// its execution model that logitloss/cuda.cuh uses, emulated on the CPU, so
// that the test suite runs the CUDA kernels' own source on a machine without
// a GPU. Compiled with -DLOGITLOSS_CUDA_EMULATION and this folder ahead of
// any CUDA toolkit on the include path; cuda.cuh's `#include
// <cuda_runtime.h>` then finds this file, and its launches go through
// logitloss_cuda_emulation::launch.
//
// Model. Every emulated CUDA thread of a block is an OS thread (a pool of
// blockDim.x workers, kept between launches); the blocks of a grid run one
// after another, each to completion, so `__shared__` (a function-local
// static here) is the running block's shared memory. __syncthreads() is a
// barrier of the block's threads, and every thread of a block must reach
// the same barriers: one that leaves early or waits at a different
// __syncthreads aborts the program with a message (a GPU may hang or go
// on). __shfl_down_sync is an exchange between the 32 threads of a warp
// (full masks only). Launches are synchronous and serialised (one at a time
// whatever the host thread), "device" memory is host memory, filled with
// 0xff bytes (NaN) when allocated, and the stream is ignored: stream order
// is program order. A failed call is also recorded as the host thread's
// last error, which cudaGetLastError() returns and clears, as in CUDA.
//
// What it cannot show: timing; memory orderings weaker than sequential
// consistency; code generation (the host compiler builds the kernels, so
// nvcc's contraction of a*b+c into fma is not reproduced); reads of
// __shared__ memory before it is written (a static is zero-initialised and
// keeps its values from block to block); a block larger than the kernel's
// __launch_bounds__. Unlike CUDA it needs blocks of whole warps; like CUDA
// it rejects an empty grid and blocks of more than 1024 threads, through
// cudaGetLastError.
#pragma once

#if !defined(LOGITLOSS_CUDA_EMULATION)
#error "tests/cuda_emulation/cuda_runtime.h is the CPU emulation: compile with -DLOGITLOSS_CUDA_EMULATION"
#endif

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

// ---- runtime types and values (the subset cuda.cuh names) ----------------------------

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorLaunchFailure = 719,
};

struct emulated_stream;
using cudaStream_t = emulated_stream*;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __launch_bounds__(...)

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace logitloss_cuda_emulation {

constexpr unsigned warp_size = 32;

// Where a thread of the block waits: at its n-th __syncthreads (n >= 0), or
// at the end of the block (end_of_block).
constexpr long end_of_block = -1;

[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "cuda emulation: %s\n", what);
    std::abort();
}

// Checks, once every thread of the block has arrived, that they all wait at
// the same barrier.
struct same_barrier {
    std::vector<long>* at;
    void operator()() noexcept {
        for (long a : *at)
            if (a != at->front()) die("the threads of a block reached different barriers (divergent __syncthreads)");
    }
};

// What the running launch shares between its threads.
struct block_state {
    explicit block_state(unsigned threads)
        : at(threads, 0),
          block(threads, same_barrier{&at}),
          warps(threads / warp_size),
          slots{std::vector<double>(threads), std::vector<double>(threads)} {
        for (auto& w : warps) w = std::make_unique<std::barrier<>>(warp_size);
    }
    std::vector<long> at;  // per thread: the barrier it waits at
    std::barrier<same_barrier> block;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    // Per thread, the value its shuffle offers, in two sets used by
    // alternate shuffles: a lane writes set k only after every lane of its
    // warp has passed the barrier of the shuffle before, so after all have
    // read set k from the shuffle before that.
    std::vector<double> slots[2];
};

inline thread_local unsigned shuffles = 0;  // this thread's shuffles so far
inline thread_local long syncs = 0;         // this thread's __syncthreads in this block so far

inline thread_local block_state* current = nullptr;

// Counters the tests read: launches made, allocations alive, and switches
// that make the next cudaMallocAsync or launch fail (their error paths).
struct counters {
    std::atomic<long> launches{0};
    std::atomic<long> live_allocations{0};
    std::atomic<bool> fail_next_allocation{false};
    std::atomic<bool> fail_next_launch{false};
};
inline counters& stats() {
    static counters c;
    return c;
}

inline thread_local cudaError_t last_error = cudaSuccess;

// A runtime call's result, recorded as the last error when it failed.
inline cudaError_t result(cudaError_t e) {
    if (e != cudaSuccess) last_error = e;
    return e;
}

// A pool of `threads` workers that run one job at a time: the threads of a
// block, reused for every block and every launch of that block size.
class pool {
public:
    explicit pool(unsigned threads) : threads_(threads), start_(threads + 1), done_(threads + 1) {
        for (unsigned t = 0; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
    }
    ~pool() {
        stop_ = true;
        start_.arrive_and_wait();
        for (auto& w : workers_) w.join();
    }
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    unsigned threads() const { return threads_; }

    // Runs job(t) on every worker t and returns when all have finished.
    void run(const std::function<void(unsigned)>& job) {
        job_ = &job;
        start_.arrive_and_wait();
        done_.arrive_and_wait();
        job_ = nullptr;
    }

private:
    void work(unsigned t) {
        for (;;) {
            start_.arrive_and_wait();
            if (stop_) return;
            (*job_)(t);
            done_.arrive_and_wait();
        }
    }
    unsigned threads_;
    std::barrier<> start_, done_;
    std::vector<std::thread> workers_;
    const std::function<void(unsigned)>* job_ = nullptr;
    bool stop_ = false;
};

// One launch at a time: the pool, the block's state and the kernels'
// __shared__ statics serve one grid.
inline std::mutex& launch_mutex() {
    static std::mutex m;
    return m;
}

inline pool& pool_of(unsigned threads) {  // under launch_mutex
    static std::unique_ptr<pool> p;
    if (!p || p->threads() != threads) {
        p.reset();
        p = std::make_unique<pool>(threads);
    }
    return *p;
}

// kernel<<<grid, block, 0, stream>>>(args...), synchronously; the arguments
// convert to the kernel's parameter types implicitly, as in a launch.
template <class... Params>
void launch(void (*kernel)(Params...), unsigned grid, unsigned block, cudaStream_t,
            std::type_identity_t<Params>... args) {
    if (grid == 0 || block == 0 || block > 1024 || block % warp_size != 0) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    if (stats().fail_next_launch.exchange(false)) {
        last_error = cudaErrorLaunchFailure;
        return;
    }
    const std::lock_guard<std::mutex> lock(launch_mutex());
    block_state state(block);
    const std::function<void(unsigned)> job = [&](unsigned t) {
        current = &state;
        shuffles = 0;
        threadIdx = dim3{t, 0, 0};
        blockDim = dim3{block, 1, 1};
        gridDim = dim3{grid, 1, 1};
        for (unsigned b = 0; b < grid; ++b) {
            blockIdx = dim3{b, 0, 0};
            syncs = 0;
            kernel(args...);
            // The block is finished before the next one reuses shared memory.
            state.at[t] = end_of_block;
            state.block.arrive_and_wait();
        }
        current = nullptr;
    };
    pool_of(block).run(job);
    ++stats().launches;
}

}  // namespace logitloss_cuda_emulation

// ---- device functions --------------------------------------------------------------

inline void __syncthreads() {
    using namespace logitloss_cuda_emulation;
    current->at[threadIdx.x] = syncs++;
    current->block.arrive_and_wait();
}

// v from the lane `delta` above this one (this lane's own v where that is
// past the warp), as CUDA's shuffle; every lane of the warp must call it.
inline double __shfl_down_sync(unsigned mask, double v, unsigned delta) {
    using namespace logitloss_cuda_emulation;
    if (mask != 0xffffffffu) die("__shfl_down_sync: partial masks are not emulated");
    block_state& s = *current;
    const unsigned lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
    std::vector<double>& slot = s.slots[shuffles++ % 2];
    slot[threadIdx.x] = v;
    s.warps[warp]->arrive_and_wait();
    return lane + delta < warp_size ? slot[threadIdx.x + delta] : v;
}

// Correctly rounded products and quotients that the compiler may not fuse.
inline double __dmul_rn(double a, double b) {
    volatile double r = a * b;
    return r;
}
inline double __ddiv_rn(double a, double b) {
    volatile double r = a / b;
    return r;
}

inline unsigned long long atomicMin(unsigned long long* address, unsigned long long v) {
    std::atomic_ref<unsigned long long> a(*address);
    unsigned long long old = a.load();
    while (v < old && !a.compare_exchange_weak(old, v)) {
    }
    return old;
}

// ---- host runtime ------------------------------------------------------------------

inline cudaError_t cudaGetLastError() {
    const cudaError_t e = logitloss_cuda_emulation::last_error;
    logitloss_cuda_emulation::last_error = cudaSuccess;
    return e;
}

inline const char* cudaGetErrorName(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}

inline const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unknown error";
}

inline cudaError_t cudaMallocAsync(void** p, std::size_t bytes, cudaStream_t) {
    using logitloss_cuda_emulation::result;
    auto& s = logitloss_cuda_emulation::stats();
    if (p == nullptr) return result(cudaErrorInvalidValue);
    if (s.fail_next_allocation.exchange(false)) return result(cudaErrorMemoryAllocation);
    // 256-byte aligned, as cudaMalloc's; 0xff bytes, so that a read before
    // a write shows (NaN).
    const std::size_t size = (bytes + 255) / 256 * 256 + 256;
    *p = std::aligned_alloc(256, size);
    if (*p == nullptr) return result(cudaErrorMemoryAllocation);
    std::memset(*p, 0xff, size);
    ++s.live_allocations;
    return cudaSuccess;
}

inline cudaError_t cudaFreeAsync(void* p, cudaStream_t) {
    if (p != nullptr) {
        std::free(p);
        --logitloss_cuda_emulation::stats().live_allocations;
    }
    return cudaSuccess;
}

inline cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t) {
    if (p == nullptr && bytes > 0) return logitloss_cuda_emulation::result(cudaErrorInvalidValue);
    if (bytes > 0) std::memset(p, value, bytes);
    return cudaSuccess;
}

inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind, cudaStream_t) {
    if ((dst == nullptr || src == nullptr) && bytes > 0) return logitloss_cuda_emulation::result(cudaErrorInvalidValue);
    if (bytes > 0) std::memmove(dst, src, bytes);
    return cudaSuccess;
}

inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
