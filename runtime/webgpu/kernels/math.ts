// WebGPU kernels: math family.
