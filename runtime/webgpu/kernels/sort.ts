// WebGPU kernels: sort family. Registered on import by kernels/index.ts.
export {};
