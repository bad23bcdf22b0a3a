/* kernels/cpu.h - CPU feature detection and floating-point mode control
 * (internal). */
#ifndef GG_KERNELS_CPU_H
#define GG_KERNELS_CPU_H

/* 1 if this CPU and OS support AVX-512F (with FMA), else 0. Always 0 on
 * non-x86 machines. */
int gg__cpu_has_avx512(void);

/* 1 if this CPU and OS support AVX2 and FMA, else 0. Always 0 on non-x86. */
int gg__cpu_has_avx2_fma(void);

/* 1 if the AVX2/AVX-512 kernels were compiled in (meson option simd=true on
 * x86-64), else 0. */
int gg__cpu_simd_built(void);

/* Turns flush-to-zero and denormals-are-zero on (on != 0) or off for the
 * calling thread (MXCSR FTZ/DAZ bits on x86; a no-op elsewhere). Denormal
 * operands can slow SSE/AVX arithmetic by 100x; training rarely needs them. */
void gg__set_flush_denormals(int on);

/* The calling thread's floating-point control word (MXCSR on x86, 0
 * elsewhere) and its restoration: the thread pool copies the caller's mode
 * (FTZ/DAZ, rounding) to its workers so that results do not depend on the
 * thread count. */
unsigned gg__fp_mode_get(void);
void gg__fp_mode_set(unsigned mode);

/* Name of the kernel path GEMM uses now: "avx512", "avx2" or "portable".
 * The string is static. */
const char *gg__cpu_kernel_name(void);

#endif
