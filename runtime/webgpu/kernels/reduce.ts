// WebGPU kernels: reduce family.
