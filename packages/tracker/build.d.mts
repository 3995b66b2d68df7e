/** Bytes of dist/tracker.min.js after gzip -9: issue #4's budget. */
export declare const BUDGET: number;
/** The minified script-tag build, in memory. */
export declare function buildScript(): Promise<Uint8Array>;
export declare function gzipSize(bytes: Uint8Array): number;
