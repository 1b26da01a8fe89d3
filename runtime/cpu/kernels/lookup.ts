// CPU kernels: lookup family. Registered on import by kernels/index.ts.
export {};
