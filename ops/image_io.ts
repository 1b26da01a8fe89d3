// Image codecs (PNG, JPEG) and file reading/writing ops: filled by its owner.
