/* Loaded with RTLD_GLOBAL before torch (vitkit/runtime/mkl_amd.py), this definition is the one torch's statically
 * linked MKL binds to when it asks whether its Intel-tuned kernels may run. MKL then picks its kernels
 * by the CPU's instruction sets (cpuid feature bits) instead of by its vendor string; vitkit loads it
 * only on AMD CPUs that have the instructions those kernels use (AVX2, FMA, BMI1/2). Not a Python module:
 * nothing here is imported. */
int mkl_serv_intel_cpu_true(void) { return 1; }
