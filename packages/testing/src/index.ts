/** `@reins/testing`: a real scripted provider server and the scripts it plays. */
export * as ChatCompletions from "./ChatCompletions.js"
export * as Gemini from "./Gemini.js"
export * as Messages from "./Messages.js"
export * as ProviderServer from "./ProviderServer.js"
export * as Responses from "./Responses.js"
export * as Script from "./Script.js"
export * as ScriptedModel from "./ScriptedModel.js"
