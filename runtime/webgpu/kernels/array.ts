// WebGPU kernels: array family.
