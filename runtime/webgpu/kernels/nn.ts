// WebGPU kernels: nn family.
