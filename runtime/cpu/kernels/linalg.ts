// CPU kernels: linalg family. Registered on import by kernels/index.ts.
export {};
