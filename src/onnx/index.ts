// tf.onnx: export to ONNX (filled by its owner).
export {};
