// tf.signal / tf.spectral (being written this session)
export {};
