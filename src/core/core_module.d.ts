/** The compiled core.wasm, for creating further instances. */
export declare const coreModule: WebAssembly.Module;
