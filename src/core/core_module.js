// @ts-self-types="./core_module.d.ts"
// A source-phase import gives the compiled module, so every endpoint can
// instantiate its own core (its own tables, its own clock). It lives in a .js
// file because TypeScript's checker cannot parse `import source` yet.
import source coreModule from "./core.wasm";

export { coreModule };
