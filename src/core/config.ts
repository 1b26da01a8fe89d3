/**
 * Every WEIR_* environment switch, read in one place. Where there is no `process` (browsers) each
 * takes its default. Switches read per call can be changed between runs; cpuFast is read once by
 * the modules that pick their kernels at load time.
 */
function env(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

export const config = {
  /** WEIR_BACKEND: the backend of sessions that do not name one ('cpu'). */
  defaultBackend: (): string => env('WEIR_BACKEND') || 'cpu',
  /**
   * WEIR_VERIFY_OPT=1: every run of an optimized CPU session also runs the unoptimized plan on a
   * snapshot of the session state, and every run on another backend also runs on the CPU; they
   * must agree (src/verification.ts).
   */
  verify: (): boolean => env('WEIR_VERIFY_OPT') === '1',
  /** WEIR_CPU_FAST=0: the CPU backend's pure-TypeScript path (no WebAssembly SIMD, no threads). */
  cpuFast: (): boolean => env('WEIR_CPU_FAST') !== '0',
  /** WEIR_CPU_THREADS=n: threads (the caller included) for large CPU kernels; undefined: the core count. */
  cpuThreads: (): number | undefined => {
    const v = env('WEIR_CPU_THREADS');
    return v !== undefined && v !== '' ? Number(v) : undefined;
  },
  /**
   * WEIR_CPU_WINOGRAD: which Winograd variants the CPU's 3x3 convolutions may use where they pay:
   * '0' none (im2col's or the implicit GEMM's rounding), '2' only F(2x2,3x3), whose constants are
   * exact in float32, anything else both (F(4x4,3x3) from 16x16 outputs: 4x fewer multiplications,
   * about 10x the rounding error of the GEMM). Read per call.
   */
  cpuWinograd: (): 0 | 2 | 4 => {
    const v = env('WEIR_CPU_WINOGRAD');
    return v === '0' ? 0 : v === '2' ? 2 : 4;
  },
  /**
   * WEIR_WEBGPU_PREFER_HOST=0: small integer ops whose inputs are on the host run their GPU
   * kernels anyway (the WebGPU test pass uses it to reach every kernel).
   */
  webgpuPreferHost: (): boolean => env('WEIR_WEBGPU_PREFER_HOST') !== '0',
  /**
   * WEIR_PROFILE=1: sessions time every kernel (runtime/profile.ts) and print the table to stderr
   * when closed or, if never closed, when the process exits. Read when a session is made.
   */
  profile: (): boolean => env('WEIR_PROFILE') === '1',
};
