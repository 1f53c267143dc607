/** `@reins/acp`: a Reins agent turn served as an Agent Client Protocol agent. */
export * as AcpAgent from "./AcpAgent.js"
export * as AcpPrompt from "./AcpPrompt.js"
export * as AcpUpdates from "./AcpUpdates.js"
export * as SessionStore from "./SessionStore.js"
