// TF1 functions building the indexing family's ops (issue 18).
export {};
