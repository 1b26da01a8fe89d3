// TF1 functions building the ragged family's ops (issue 18).
export {};
