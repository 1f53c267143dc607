/**
 * What an ACP client's prompt becomes: its content blocks as one Reins user message. Text stays
 * text; an image becomes an image part; an embedded text resource is given to the model as text
 * tagged with its URI, an embedded binary resource as a file (or an image) part; a resource link,
 * which the agent may not be able to read, is named to the model with its URI so that a tool can
 * open it. Audio, which this agent does not advertise, is refused. Plain functions.
 */
import type * as Acp from "@agentclientprotocol/sdk"
import { Message, Part } from "@reins/core"
import * as Either from "effect/Either"

/** The prompt capabilities that match what `toUserMessage` takes. */
export const capabilities: Acp.PromptCapabilities = { image: true, audio: false, embeddedContext: true }

/** Why a prompt could not be taken. */
export interface Unsupported {
  readonly _tag: "Unsupported"
  /** The position of the block in the prompt. */
  readonly index: number
  readonly reason: string
}

/** The last segment of a URI's path, as a file name. */
const fileName = (uri: string): string => {
  const path = uri.split(/[?#]/)[0] ?? uri
  const name = path.split("/").filter((s) => s !== "").at(-1)
  return name === undefined || name === "" ? "file" : decodeURIComponent(name)
}

const isImage = (mimeType: string | null | undefined): mimeType is string =>
  typeof mimeType === "string" && mimeType.startsWith("image/")

/** One block as the user parts it makes, or why it cannot be taken. */
export const blockParts = (block: Acp.ContentBlock): Either.Either<ReadonlyArray<Part.UserPart>, string> => {
  switch (block.type) {
    case "text":
      return Either.right(block.text === "" ? [] : [Part.text(block.text)])
    case "image":
      return Either.right([Part.imageData(block.data, block.mimeType)])
    case "resource_link": {
      const label = block.title ?? block.name
      const details = [block.mimeType, block.description].filter((s) => typeof s === "string" && s !== "").join(", ")
      return Either.right([Part.text(`[${label}](${block.uri})${details === "" ? "" : ` (${details})`}`)])
    }
    case "resource": {
      const resource = block.resource
      if ("text" in resource) {
        const type = resource.mimeType ? ` mimeType="${resource.mimeType}"` : ""
        return Either.right([Part.text(`<resource uri="${resource.uri}"${type}>\n${resource.text}\n</resource>`)])
      }
      const mimeType = resource.mimeType ?? "application/octet-stream"
      return Either.right([
        isImage(mimeType) ? Part.imageData(resource.blob, mimeType) : Part.fileData(resource.blob, mimeType, fileName(resource.uri))
      ])
    }
    case "audio":
      return Either.left("audio is not supported by this agent (promptCapabilities.audio is false)")
    default:
      return Either.left(`content blocks of type "${(block as { type?: unknown }).type}" are not supported`)
  }
}

/**
 * A prompt's blocks as one user message, or the first block that cannot be taken.
 *
 * @example
 * ```ts
 * import { AcpPrompt } from "@reins/acp"
 * import { Either } from "effect"
 *
 * const message = AcpPrompt.toUserMessage([
 *   { type: "text", text: "What does this do?" },
 *   { type: "resource", resource: { uri: "file:///src/main.ts", mimeType: "text/x-typescript", text: "main()" } }
 * ])
 * assert.ok(Either.isRight(message))
 * assert.strictEqual(message.right.content.length, 2)
 * ```
 */
export const toUserMessage = (blocks: ReadonlyArray<Acp.ContentBlock>): Either.Either<Message.User, Unsupported> => {
  const parts: Array<Part.UserPart> = []
  for (let index = 0; index < blocks.length; index++) {
    const made = blockParts(blocks[index])
    if (Either.isLeft(made)) return Either.left({ _tag: "Unsupported", index, reason: made.left })
    parts.push(...made.right)
  }
  if (parts.length === 0) return Either.left({ _tag: "Unsupported", index: 0, reason: "the prompt is empty" })
  return Either.right(Message.user(parts))
}
