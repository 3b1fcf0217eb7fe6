// Host emulation of the CUDA built-ins Engine's kernels use, so the same .cu sources compile with a host C++
// compiler and run on the CPU in tests. A launch runs the blocks of the grid one after another; the threads of a
// block are real threads (one std::thread each), so __syncthreads is a barrier and __shared__ arrays (static
// locals) are shared by exactly the threads of the running block.
#pragma once
#include <math.h>
#include <cmath>
#include <barrier>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct emu_dim3 { unsigned x, y, z; };

inline thread_local emu_dim3 threadIdx;
inline thread_local emu_dim3 blockIdx;
inline emu_dim3 blockDim;
inline emu_dim3 gridDim;
inline std::barrier<>* emu_block_barrier = nullptr;
inline std::mutex emu_atomic_mutex;
// One launch at a time: the barrier pointer, gridDim/blockDim and __shared__ statics are process-wide, so two
// launches from concurrently running tests would share them and deadlock.
inline std::mutex emu_launch_mutex;

inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }

inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, sizeof f); return f; }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, sizeof d); return d; }
inline unsigned int __float_as_uint(float v) { unsigned int u; std::memcpy(&u, &v, sizeof u); return u; }
inline float __uint_as_float(unsigned int v) { float f; std::memcpy(&f, &v, sizeof f); return f; }
// bfloat16 needs no host type: convert.cu holds it as its raw bits (unsigned short) and converts with the two
// bit casts above, exactly as on the device.

template <typename T> inline T atomicAdd(T* address, T value) {
    std::lock_guard<std::mutex> lock(emu_atomic_mutex);
    T old = *address;
    *address = old + value;
    return old;
}

// Calls a kernel with its arguments read from a cuLaunchKernel-style array of pointers.
template <typename... A, std::size_t... I>
inline void emu_invoke(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

template <typename... A>
inline void emu_run(void (*kernel)(A...), int grid, int block, void** args) {
    std::lock_guard<std::mutex> launch(emu_launch_mutex);
    gridDim = {(unsigned)grid, 1, 1};
    blockDim = {(unsigned)block, 1, 1};
    std::barrier<> barrier(block);
    emu_block_barrier = &barrier;
    std::vector<std::thread> threads;
    threads.reserve(block);
    for (int t = 0; t < block; t++)
        threads.emplace_back([=, &barrier] {
            threadIdx = {(unsigned)t, 0, 0};
            for (int b = 0; b < grid; b++) {
                blockIdx = {(unsigned)b, 0, 0};
                emu_invoke(kernel, args, std::index_sequence_for<A...>{});
                barrier.arrive_and_wait(); // the next block starts when every thread has finished this one
            }
        });
    for (auto& t : threads) t.join();
    emu_block_barrier = nullptr;
}
