/**
 * A web chat whose Stop button reaches the provider: a page streams an agent turn over SSE from an
 * `@effect/platform` HTTP server; Stop aborts the browser's fetch, which closes its connection, which
 * interrupts the server's handler fiber, the turn it streams and the provider call inside it, whose
 * connection closes in turn. Two hops, one interruption, and the conversation (kept in memory
 * across requests) goes on with the partial answer marked `interrupted`.
 *
 * The model is a local ProviderServer over real HTTP: a question (a prompt ending in "?") gets a
 * reasoning model that reasons for a moment and then thinks in silence for a minute (press Stop);
 * anything else gets a quick answer.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { type Message, Turn } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as http from "node:http"
import { pathToFileURL } from "node:url"

/** What the page receives, one SSE `data:` event each. */
export type PageEvent =
  | { readonly type: "reasoning"; readonly text: string }
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "end"; readonly stopReason: string }
  | { readonly type: "error"; readonly message: string }

const toPageEvent = (event: Turn.TurnEvent): PageEvent | undefined => {
  switch (event._tag) {
    case "StreamPart":
      return event.part._tag === "ReasoningDelta"
        ? { type: "reasoning", text: event.part.text }
        : event.part._tag === "TextDelta"
        ? { type: "text", text: event.part.text }
        : undefined
    case "TurnEnd":
      return { type: "end", stopReason: event.result.stopReason }
    default:
      return undefined
  }
}

const encoder = new TextEncoder()
const sse = (event: PageEvent): Uint8Array => encoder.encode(`data: ${JSON.stringify(event)}\n\n`)

/** The provider's script: a question (a prompt ending in "?") makes a reasoning model think for a minute; anything else gets a quick answer. */
const script = (request: ProviderServer.RequestRecord): Script.Script => {
  const messages = (request.json as { messages?: ReadonlyArray<{ role?: string; content?: unknown }> } | undefined)?.messages ?? []
  const prompt = messages.filter((message) => message.role === "user").at(-1)?.content
  if (typeof prompt === "string" && prompt.trimEnd().endsWith("?")) {
    return {
      steps: [
        ChatCompletions.start(),
        ...ChatCompletions.reasoning("The user wants a careful answer. Let me think about every case, one by one. ", { chunkSize: 6 })
          .flatMap((step) => [Script.delay(30), step]),
        Script.stall(60_000)
      ]
    }
  }
  return ChatCompletions.reply({
    text: "Here is the short answer.",
    deltaDelay: 20,
    usage: { prompt_tokens: 30, completion_tokens: 6 }
  })
}

/** The page: plain JS reading the SSE body of a `fetch` that Stop aborts. */
const page = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Reins web chat</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  .user { font-weight: 600; margin-top: 1rem; }
  .reasoning { color: #888; font-style: italic; }
  .status { color: #b00; }
  #log { padding-bottom: 4rem; }
  /* fixed at the bottom, so Stop stays put while the answer grows */
  form { position: fixed; bottom: 0; left: 0; right: 0; display: flex; gap: .5rem; padding: .75rem max(1rem, calc(50% - 23rem)); background: #fff; border-top: 1px solid #ddd; }
  input { flex: 1; padding: .4rem; }
</style>
</head>
<body>
<h1>Reins web chat</h1>
<div id="log" data-testid="log"></div>
<form id="form">
  <input id="prompt" data-testid="prompt" autocomplete="off" placeholder="Ask something">
  <button id="send" data-testid="send" type="submit">Send</button>
  <button id="stop" data-testid="stop" type="button" disabled>Stop</button>
</form>
<script>
const log = document.getElementById("log")
const form = document.getElementById("form")
const input = document.getElementById("prompt")
const send = document.getElementById("send")
const stop = document.getElementById("stop")
let controller

const element = (tag, className, testId, text) => {
  const node = document.createElement(tag)
  node.className = className
  if (testId) node.setAttribute("data-testid", testId)
  if (text) node.textContent = text
  return node
}

stop.addEventListener("click", () => controller && controller.abort())

form.addEventListener("submit", async (event) => {
  event.preventDefault()
  const prompt = input.value.trim()
  if (prompt === "" || controller) return
  input.value = ""
  const user = element("div", "user", "user", prompt)
  const answer = element("div", "answer", "answer")
  const reasoning = element("span", "reasoning", "reasoning")
  const text = element("span", "text", "text")
  const status = element("span", "status", "status")
  answer.append(reasoning, text, status)
  log.append(user, answer)
  controller = new AbortController()
  send.disabled = true
  stop.disabled = false
  try {
    const response = await fetch("/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt }),
      signal: controller.signal
    })
    if (!response.ok) throw new Error("HTTP " + response.status)
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (!line.startsWith("data: ")) continue
        const data = JSON.parse(line.slice(6))
        if (data.type === "reasoning") reasoning.textContent += data.text
        else if (data.type === "text") text.textContent += data.text
        else if (data.type === "error") status.textContent = " [error: " + data.message + "]"
        else if (data.type === "end") answer.setAttribute("data-stop-reason", data.stopReason)
      }
    }
  } catch (error) {
    status.textContent = error && error.name === "AbortError" ? " [stopped]" : " [error: " + error + "]"
  } finally {
    controller = undefined
    send.disabled = false
    stop.disabled = true
    input.focus()
  }
})
</script>
</body>
</html>
`

/** A running web chat. */
export interface WebChat {
  /** "http://127.0.0.1:PORT/" */
  readonly url: string
  /** The embedded provider the model talks to; it records when each connection closes. */
  readonly provider: ProviderServer.ProviderServer
}

const ChatBody = Schema.Struct({ prompt: Schema.String })

/** Starts the provider, the model and the web server in the current scope. */
export const make = (options: { readonly port?: number } = {}) =>
  Effect.gen(function*() {
    const provider = yield* ProviderServer.make({ handler: script })
    const model = yield* Layer.build(
      OpenAiChat.layer({ model: "local-reasoner", apiKey: "sk-local", baseUrl: `${provider.url}/v1` }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
    const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
    // One turn at a time on the shared conversation: a new prompt waits for a stopped turn to record its partial answer.
    const lock = yield* Effect.makeSemaphore(1)
    const holdLock = Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(restore(lock.take(1)), Effect.addFinalizer(() => lock.release(1)))
    )

    const chat = Effect.gen(function*() {
      const { prompt } = yield* HttpServerRequest.schemaBodyJson(ChatBody)
      const events = Stream.unwrapScoped(Effect.as(holdLock, Turn.stream({ conversation, input: prompt }))).pipe(
        Stream.filterMap((event) => Option.fromNullable(toPageEvent(event))),
        Stream.catchAll((error) => Stream.succeed<PageEvent>({ type: "error", message: error.message })),
        Stream.map(sse),
        Stream.provideContext(model)
      )
      return HttpServerResponse.stream(events, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache" }
      })
    }).pipe(
      Effect.catchTags({
        ParseError: () => HttpServerResponse.text("expected JSON { prompt: string }", { status: 400 }),
        RequestError: () => HttpServerResponse.text("could not read the request", { status: 400 })
      })
    )

    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/", HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" })),
      HttpRouter.post("/chat", chat)
    )

    const server = http.createServer()
    const context = yield* Layer.build(NodeHttpServer.layer(() => server, { port: options.port ?? 0, host: "127.0.0.1" }))
    // Runs before the server's own close, which would otherwise wait for open (streaming, keep-alive) connections.
    yield* Effect.addFinalizer(() => Effect.sync(() => server.closeAllConnections()))
    yield* HttpServer.serveEffect()(router).pipe(Effect.provide(context))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : options.port ?? 0
    return { url: `http://127.0.0.1:${port}/`, provider } satisfies WebChat
  })

/** Starts the web chat outside Effect; `close` stops the web server, the model and the provider. */
export const start = async (options: { readonly port?: number } = {}): Promise<WebChat & { close(): Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const chat = await Effect.runPromise(Scope.extend(make(options), scope)).catch(async (error: unknown) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  })
  return { ...chat, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  NodeRuntime.runMain(
    Effect.gen(function*() {
      const chat = yield* make({ port: 3000 })
      yield* Console.log(`Web chat on ${chat.url} (model: a local ProviderServer on ${chat.provider.url}).`)
      yield* Console.log("A question (ending in ?) makes the model think for a minute: press Stop. Ctrl-C to quit.")
      return yield* Effect.never
    }).pipe(Effect.scoped)
  )
}
