// CPU kernels: sparse family. Registered on import by kernels/index.ts.
export {};
