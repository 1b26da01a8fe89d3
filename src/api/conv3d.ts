// TF1 functions building the conv3d family's ops (issue 18).
export {};
