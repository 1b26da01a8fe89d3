// TF1 functions building the strings family's ops (issue 18).
export {};
