export * as Anthropic from "./Anthropic.js"
export * as AnthropicConfig from "./Config.js"
export * as AnthropicEvents from "./Events.js"
export * as AnthropicRequest from "./Request.js"
