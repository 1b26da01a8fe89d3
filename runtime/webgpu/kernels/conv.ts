// WebGPU kernels: conv family.
