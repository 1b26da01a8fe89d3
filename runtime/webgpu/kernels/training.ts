// WebGPU kernels: training family.
