export * as McpContent from "./McpContent.js"
export * as McpError from "./McpError.js"
export * as McpToolkit from "./McpToolkit.js"
