// TF1 functions building the normalization family's ops (issue 18).
export {};
