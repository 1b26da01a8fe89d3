// TF1 functions building the sort family's ops (issue 18).
export {};
