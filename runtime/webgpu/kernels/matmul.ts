// WebGPU kernels: matmul family.
