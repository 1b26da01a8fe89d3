// TF1 functions building the sparse family's ops (issue 18).
export {};
