// CPU kernels of ops/image_io.ts: filled by its owner.
