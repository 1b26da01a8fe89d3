// tf.train.exportMetaGraph / importMetaGraph: filled by its owner.
export {};
