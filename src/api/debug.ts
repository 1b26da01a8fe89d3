// TF1 functions building the debug family's ops (issue 18).
export {};
