/* Run-time CPU dispatch for the backend's own hot loops.
 *
 * The default build targets baseline x86-64 (no -march=native, so a binary
 * runs on any x86-64 CPU).  Functions marked ND__HOT are compiled three times
 * (GCC/Clang target_clones): for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL),
 * x86-64-v3 (AVX2, FMA) and the baseline; the dynamic loader picks the best
 * one for the CPU once (an ifunc).  BLAS dispatches itself.
 *
 * Mark serial functions only: the body of an OpenMP parallel region is
 * outlined before cloning and would keep the baseline code, so the clone goes
 * on the serial function that the region calls (a work-shared `omp for`
 * inside the function is fine).  With -DND_NATIVE=ON (-march=native) or on
 * other architectures ND__HOT is empty.  Clang (the fuzz build) gets no clones:
 * Clang 14 emits no external symbol for a cloned function called from another
 * file (nd__wta_row_step from lcawta.c failed to link).  Measured in docs/RESULTS.md
 * ("Kernels: default build against -march=native"). */
#ifndef NEURODYN_BACKEND_CPU_DISPATCH_H
#define NEURODYN_BACKEND_CPU_DISPATCH_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ND_NATIVE_BUILD) && !defined(__AVX2__) && \
    !defined(__clang__)
#define ND__HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ND__HOT
#endif

#endif
