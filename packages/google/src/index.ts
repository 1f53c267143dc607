/** `@reins/google`: Google Gemini for Reins. */
export * as GoogleConfig from "./Config.js"
export * as GoogleEvents from "./Events.js"
export * as Google from "./Google.js"
export * as GoogleRequest from "./Request.js"
