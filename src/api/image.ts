// TF1 functions building the image family's ops (issue 18).
export {};
