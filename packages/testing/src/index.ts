/** `@reins/testing`: a real scripted provider server, the scripts it plays, and seeded faults. */
export * as Chaos from "./Chaos.js"
export * as ChatCompletions from "./ChatCompletions.js"
export * as Gemini from "./Gemini.js"
export * as Messages from "./Messages.js"
export * as ProviderServer from "./ProviderServer.js"
export * as Responses from "./Responses.js"
export * as Script from "./Script.js"
export * as ScriptedModel from "./ScriptedModel.js"
