// TF1 functions building the linalg family's ops (issue 18).
export {};
