// TF1's resource TensorArray ops (TensorArrayV3 and friends), run by the runtime (being written
// this session); they register with runtime/control_flow.ts's registerRuntimeKernels.
export {};
