export * as Kimi from "./Kimi.js"
export * as KimiConfig from "./Config.js"
export * as KimiRequest from "./Request.js"
