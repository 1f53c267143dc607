export * as ChatConfig from "./chat/Config.js"
export * as ChatEvents from "./chat/Events.js"
export * as ChatRequest from "./chat/Request.js"
export * as OpenAiChat from "./OpenAiChat.js"
