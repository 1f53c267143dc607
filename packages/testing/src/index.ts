/** `@reins/testing`: a real scripted provider server and the scripts it plays. */
export * as ChatCompletions from "./ChatCompletions.js"
export * as ProviderServer from "./ProviderServer.js"
export * as Script from "./Script.js"
