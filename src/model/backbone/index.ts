/** The frozen NanoDet-g backbone: loading, feature extraction (PAN pyramid + its own head) and head decoding. */
export * from './nanodet';
export * from './decode';
