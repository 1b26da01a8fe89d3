// (being written this session)
export {};
