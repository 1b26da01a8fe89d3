// tf.train: filled by its owner.
export {};
