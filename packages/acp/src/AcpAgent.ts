/**
 * A Reins agent served over the Agent Client Protocol, so that an editor (Zed, JetBrains, any ACP
 * client) can drive it: `initialize`, `session/new`, `session/load` (a stored conversation,
 * replayed to the client), `session/prompt` (a `Turn` on the `LanguageModel` in context, streamed
 * as `session/update` notifications), and `session/request_permission` for tools that ask first.
 *
 * The stop is exact across the boundary: `session/cancel`, `$/cancel_request` for the prompt, a
 * `cancelled` answer to a permission request and a client that goes away each interrupt the
 * turn's fiber, which closes the provider's connection and interrupts running tools, and the
 * prompt answers `stopReason: "cancelled"` (when there is still a client to answer). A `cancelled`
 * permission outcome is a stop in itself, since it may arrive before the `session/cancel` that
 * caused it. A cancel while a session is idle is a no-op and does not carry over to its next
 * prompt; sessions never touch each other; a second prompt on a busy session is refused.
 */
import * as Acp from "@agentclientprotocol/sdk"
import { Approval, type LanguageModel, type Message, type Part, type Tool, Toolkit, Turn } from "@reins/core"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as HashSet from "effect/HashSet"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { randomUUID } from "node:crypto"
import { Readable, Writable } from "node:stream"
import * as AcpPrompt from "./AcpPrompt.js"
import * as AcpUpdates from "./AcpUpdates.js"
import { SessionStore } from "./SessionStore.js"

/** How the agent runs its turns and introduces itself. */
export interface Options<Tools extends ReadonlyArray<Tool.Any>> {
  /** The tools offered to the model; those made with `needsApproval` ask the client first. */
  readonly toolkit?: Toolkit.Toolkit<Tools> | undefined
  /** The agent's name and version in the `initialize` answer. */
  readonly name?: string | undefined
  readonly title?: string | undefined
  readonly version?: string | undefined
  /** The most model calls in one prompt's turn; default 10. Reaching it answers `max_turn_requests`. */
  readonly maxSteps?: number | undefined
  /** How many tool calls of one step run at once; default all. */
  readonly concurrency?: number | undefined
  /** Request fields for every model call (system prompt, reasoning effort, ...). */
  readonly request?: Omit<LanguageModel.Request, "messages" | "tools"> | undefined
  /** How each tool call is shown (title, kind, locations); `AcpUpdates.describeTool` by default. */
  readonly describeTool?: AcpUpdates.DescribeTool | undefined
  /** The model's context window in tokens, sent in `usage_update`; without it no usage is sent. */
  readonly contextWindow?: number | undefined
  /**
   * Connects the MCP servers a client names in `session/new` and `session/load` and returns their
   * tools (tools that need no services, such as `@reins/mcp`'s `McpToolkit.stdio`), offered in that
   * session beside `toolkit`. Its scope is the session's: it closes when the agent's does. Without
   * it the servers are not connected.
   */
  readonly mcpServers?:
    | ((
      servers: ReadonlyArray<Acp.McpServer>,
      session: { readonly sessionId: string; readonly cwd: string }
    ) => Effect.Effect<ReadonlyArray<ServiceFreeTool>, unknown, Scope.Scope>)
    | undefined
}

/** A tool whose calls need no services: what a session's MCP servers give. */
export interface ServiceFreeTool extends Tool.Any {
  readonly run: (call: Part.ToolCall) => Effect.Effect<Message.ToolResult, never, never>
}

/** What `make` gives: the ACP app to connect, and a way to wait for the prompts still running. */
export interface Agent {
  readonly app: Acp.AgentApp
  /** Waits until no prompt is running (a cancelled one has answered and saved its session). */
  readonly awaitIdle: Effect.Effect<void>
}

/** The permission options offered for every call that asks first. */
export const permissionOptions: ReadonlyArray<Acp.PermissionOption> = [
  { optionId: "allow_once", name: "Allow", kind: "allow_once" },
  { optionId: "allow_always", name: "Always allow this tool", kind: "allow_always" },
  { optionId: "reject_once", name: "Reject", kind: "reject_once" },
  { optionId: "reject_always", name: "Always reject this tool", kind: "reject_always" }
]

/** A prompt running in a session. */
interface Running {
  /** Set once the client asked for the stop, by any route; the answer is then `cancelled`. */
  cancelled: boolean
  readonly stop: Deferred.Deferred<void>
}

/** A session this process holds. */
interface Session {
  readonly id: string
  cwd: string
  readonly conversation: Turn.Conversation
  running: Running | undefined
  /** Tools the user allowed (`true`) or rejected (`false`) for good in this session. */
  readonly always: Map<string, boolean>
  /** The agent's tools and those of the session's MCP servers. */
  readonly toolkit: Toolkit.Toolkit<ReadonlyArray<Tool.Any>>
}

/** How a prompt's turn ended, for its answer. */
type Ended =
  | { readonly _tag: "Answer"; readonly stopReason: Acp.StopReason }
  | { readonly _tag: "Failed"; readonly message: string }

const errorMessage = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  return failure instanceof Error ? `${failure.name}: ${failure.message}` : String(failure)
}

/**
 * Builds the agent, its handlers running on the context's `LanguageModel`, `SessionStore` and
 * tool requirements. Its prompts run in the scope: closing it interrupts them.
 *
 * @example
 * ```ts
 * import * as Acp from "@agentclientprotocol/sdk"
 * import { AcpAgent, SessionStore } from "@reins/acp"
 * import { ScriptedModel } from "@reins/testing"
 * import { Effect, Layer } from "effect"
 *
 * // An agent and a client in one process, joined by the SDK; over stdio, `AcpAgent.serveStdio` does it.
 * const program = Effect.gen(function*() {
 *   const { app } = yield* AcpAgent.make({ name: "example" })
 *   return yield* Effect.promise(() =>
 *     Acp.client().connectWith(app, async (agent) => {
 *       await agent.request(Acp.methods.agent.initialize, { protocolVersion: Acp.PROTOCOL_VERSION })
 *       const { sessionId } = await agent.request(Acp.methods.agent.session.new, { cwd: "/", mcpServers: [] })
 *       return agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "Hi" }] })
 *     })
 *   )
 * })
 * const answer = await Effect.runPromise(program.pipe(
 *   Effect.scoped,
 *   Effect.provide(Layer.merge(ScriptedModel.layer([ScriptedModel.text("Hello!")]), SessionStore.layerMemory))
 * ))
 * assert.strictEqual(answer.stopReason, "end_turn")
 * ```
 */
export const make = <Tools extends ReadonlyArray<Tool.Any> = []>(
  options: Options<Tools> = {}
): Effect.Effect<
  Agent,
  never,
  Scope.Scope | LanguageModel.LanguageModel | SessionStore | Tool.Requirements<Tools[number]>
> =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const run = yield* FiberSet.runtimePromise(fibers)<
      LanguageModel.LanguageModel | SessionStore | Tool.Requirements<Tools[number]>
    >()
    const toolkit = options.toolkit ?? (Toolkit.empty as unknown as Toolkit.Toolkit<Tools>)
    const sessions = new Map<string, Session>()
    const agentScope = yield* Effect.scope

    /** The session's toolkit: the agent's, and the tools of its MCP servers, connected in a scope of the session's own. */
    const sessionToolkit = (sessionId: string, cwd: string, servers: ReadonlyArray<Acp.McpServer>) => {
      const connect = options.mcpServers
      if (connect === undefined || servers.length === 0) return Effect.succeed(toolkit as unknown as Toolkit.Toolkit<ReadonlyArray<Tool.Any>>)
      return Effect.gen(function*() {
        const scope = yield* Scope.fork(agentScope, ExecutionStrategy.sequential)
        return yield* connect(servers, { sessionId, cwd }).pipe(
          // Two tools of one name (a server's and the agent's, say) cannot be told apart by the model.
          Effect.flatMap((tools) => Effect.try(() => Toolkit.make(...toolkit.tools, ...tools))),
          Scope.extend(scope),
          Effect.onError(() => Scope.close(scope, Exit.void))
        ) as unknown as Effect.Effect<Toolkit.Toolkit<ReadonlyArray<Tool.Any>>, unknown>
      })
    }

    /** A session's toolkit, or the error the client is told when its MCP servers could not be connected. */
    const connectSession = async (sessionId: string, cwd: string, servers: ReadonlyArray<Acp.McpServer>) => {
      const connected = await run(Effect.either(sessionToolkit(sessionId, cwd, servers)))
      if (Either.isLeft(connected)) {
        const reason = connected.left
        throw Acp.RequestError.internalError(
          { sessionId },
          `the session's MCP servers could not be connected: ${reason instanceof Error ? reason.message : String(reason)}`
        )
      }
      return connected.right
    }

    const sessionOf = (sessionId: string): Session => {
      const session = sessions.get(sessionId)
      if (session === undefined) throw Acp.RequestError.sessionNotFound(sessionId)
      return session
    }

    const save = (session: Session) =>
      Effect.flatMap(
        SubscriptionRef.get(session.conversation),
        (conversation) => store.save(session.id, { cwd: session.cwd, conversation })
      )

    /** Sends updates in order; a client that has gone away is not an error here (the prompt is being stopped). */
    const notify = (client: Acp.AgentContext, sessionId: string, updates: ReadonlyArray<Acp.SessionUpdate>) =>
      updates.length === 0
        ? Effect.void
        : Effect.promise(() =>
          Promise.all(updates.map((update) => client.notify(Acp.methods.client.session.update, { sessionId, update })))
            .then(() => undefined, () => undefined)
        )

    /** Asks the client about one call and decides it; a `cancelled` outcome stops the whole prompt. */
    const ask = (
      client: Acp.AgentContext,
      session: Session,
      running: Running,
      approvals: Approval.Approvals,
      updates: AcpUpdates.TurnUpdates,
      call: Part.ToolCall
    ) =>
      Effect.gen(function*() {
        const remembered = session.always.get(call.name)
        if (remembered !== undefined) {
          return yield* approvals.decide(
            call.id,
            remembered ? Approval.approved : Approval.denied("the user rejects this tool in this session")
          )
        }
        const answer = yield* Effect.either(Effect.tryPromise((signal) =>
          client.request(Acp.methods.client.session.requestPermission, {
            sessionId: session.id,
            toolCall: updates.permissionToolCall(call),
            options: [...permissionOptions]
          }, { cancellationSignal: signal, stopWaitingOnCancel: true })
        ))
        if (Either.isLeft(answer)) {
          return yield* approvals.decide(call.id, Approval.denied("the permission request failed"))
        }
        const outcome = answer.right.outcome
        if (outcome.outcome === "cancelled") return yield* stopPrompt(running)
        const kind = permissionOptions.find((o) => o.optionId === outcome.optionId)?.kind
        if (kind === "allow_always" || kind === "reject_always") session.always.set(call.name, kind === "allow_always")
        return yield* approvals.decide(
          call.id,
          kind === "allow_once" || kind === "allow_always"
            ? Approval.approved
            : kind === undefined
            ? Approval.denied("the client chose an option that was not offered")
            : Approval.denied()
        )
      })

    const stopPrompt = (running: Running) =>
      Effect.suspend(() => {
        running.cancelled = true
        return Deferred.succeed(running.stop, undefined)
      })

    /** The usage of the answer a stop cut short (estimated where the provider had not told it), once stored. */
    const partialUsage = (session: Session) =>
      Effect.map(SubscriptionRef.get(session.conversation), (history): ReadonlyArray<Acp.SessionUpdate> => {
        // The last answer of this prompt: after its input, before the results of its calls.
        for (let i = history.length - 1; i >= 0 && history[i]._tag !== "User"; i--) {
          const message = history[i]
          if (message._tag !== "Assistant") continue
          return options.contextWindow !== undefined && message.stopReason === "interrupted"
            ? [AcpUpdates.usageUpdate(message, options.contextWindow)]
            : []
        }
        return []
      })

    /** One prompt's turn, streamed to the client; never fails, its end says how to answer. */
    const prompt = (
      client: Acp.AgentContext,
      session: Session,
      input: Message.User,
      running: Running
    ): Effect.Effect<Ended, never, LanguageModel.LanguageModel | Tool.Requirements<Tools[number]>> =>
      Effect.scoped(Effect.gen(function*() {
        const turnId = randomUUID().slice(0, 8)
        const updates = AcpUpdates.make({
          messageId: (step) => `${turnId}-${step}`,
          describeTool: options.describeTool,
          contextWindow: options.contextWindow
        })
        const approvals = yield* Approval.make
        let result: Turn.TurnResult | undefined
        const turn = Turn.stream({
          conversation: session.conversation,
          input,
          // The session's tools need nothing beyond the agent's: those of its MCP servers need no services.
          toolkit: session.toolkit as unknown as Toolkit.Toolkit<Tools>,
          maxSteps: options.maxSteps,
          concurrency: options.concurrency,
          request: options.request,
          approvals
        }).pipe(
          Stream.runForEachChunk((chunk) => {
            const events = Chunk.toReadonlyArray(chunk)
            const shown = notify(client, session.id, updates.fromEvents(events))
            let asks: Effect.Effect<void, never, Scope.Scope> | undefined
            for (const event of events) {
              if (event._tag === "TurnEnd") result = event.result
              if (event._tag !== "ApprovalRequested") continue
              const one = Effect.asVoid(Effect.forkScoped(ask(client, session, running, approvals, updates, event.call)))
              asks = asks === undefined ? one : Effect.zipRight(asks, one)
            }
            // The call is shown before the client is asked about it.
            return asks === undefined ? shown : Effect.zipRight(shown, asks)
          }),
          Turn.stopWhen(running.stop)
        )
        const exit = yield* Effect.exit(turn)
        yield* save(session).pipe(
          Effect.catchAll((error) => Effect.logError("the session could not be saved", error))
        )
        if (Exit.isSuccess(exit) && result !== undefined && !running.cancelled) {
          return { _tag: "Answer", stopReason: AcpUpdates.stopReason(result.stopReason) } satisfies Ended
        }
        yield* notify(client, session.id, [...updates.interrupted(), ...(yield* partialUsage(session))])
        if (running.cancelled || Exit.isInterrupted(exit)) return { _tag: "Answer", stopReason: "cancelled" } satisfies Ended
        return {
          _tag: "Failed",
          message: Exit.isFailure(exit) ? errorMessage(exit.cause) : "the turn ended without a result"
        } satisfies Ended
      })).pipe(Effect.withSpan("AcpAgent.prompt", { attributes: { "acp.session_id": session.id } }))

    const app = Acp.agent({ name: options.name ?? "reins" })
      .onRequest(Acp.methods.agent.initialize, () => ({
        protocolVersion: Acp.PROTOCOL_VERSION,
        agentCapabilities: {
          loadSession: true,
          promptCapabilities: AcpPrompt.capabilities
        },
        authMethods: [],
        agentInfo: {
          name: options.name ?? "reins",
          version: options.version ?? "0.1.0",
          ...(options.title === undefined ? {} : { title: options.title })
        }
      }))
      .onRequest(Acp.methods.agent.session.new, async ({ params }) => {
        const id = `sess_${randomUUID().replaceAll("-", "")}`
        const session: Session = {
          id,
          cwd: params.cwd,
          conversation: Effect.runSync(SubscriptionRef.make<ReadonlyArray<Message.Message>>([])),
          running: undefined,
          always: new Map(),
          toolkit: await connectSession(id, params.cwd, params.mcpServers)
        }
        await run(Effect.orDie(save(session)))
        sessions.set(session.id, session)
        return { sessionId: session.id }
      })
      .onRequest(Acp.methods.agent.session.load, async ({ params, client }) => {
        let session = sessions.get(params.sessionId)
        if (session === undefined) {
          const stored = await run(Effect.orDie(store.load(params.sessionId)))
          if (Option.isNone(stored)) throw Acp.RequestError.sessionNotFound(params.sessionId)
          const tools = await connectSession(params.sessionId, params.cwd, params.mcpServers)
          // Another load of the same id may have finished while this one read the store.
          session = sessions.get(params.sessionId) ?? {
            id: params.sessionId,
            cwd: params.cwd,
            conversation: Effect.runSync(SubscriptionRef.make(stored.value.conversation)),
            running: undefined,
            always: new Map(),
            toolkit: tools
          }
          sessions.set(session.id, session)
        }
        session.cwd = params.cwd
        const history = Effect.runSync(SubscriptionRef.get(session.conversation))
        await run(notify(client, session.id, AcpUpdates.replay(history, { describeTool: options.describeTool })))
        return {}
      })
      .onRequest(Acp.methods.agent.session.prompt, async ({ params, signal, client }) => {
        const session = sessionOf(params.sessionId)
        if (session.running !== undefined) {
          throw Acp.RequestError.invalidRequest(
            { sessionId: session.id },
            "a prompt is already running in this session: cancel it or wait for its answer"
          )
        }
        const input = AcpPrompt.toUserMessage(params.prompt)
        if (Either.isLeft(input)) {
          throw Acp.RequestError.invalidParams({ index: input.left.index }, input.left.reason)
        }
        const running: Running = { cancelled: false, stop: Deferred.unsafeMake<void>(FiberId.none) }
        session.running = running
        // `$/cancel_request` for this request, and a closed connection, abort the signal.
        const onAbort = () => Effect.runFork(stopPrompt(running))
        if (signal.aborted) onAbort()
        else signal.addEventListener("abort", onAbort, { once: true })
        try {
          const ended = await run(prompt(client, session, input.right, running))
          if (ended._tag === "Failed") throw Acp.RequestError.internalError({ sessionId: session.id }, ended.message)
          return { stopReason: ended.stopReason }
        } finally {
          signal.removeEventListener("abort", onAbort)
          session.running = undefined
        }
      })
      .onNotification(Acp.methods.agent.session.cancel, ({ params }) => {
        const running = sessions.get(params.sessionId)?.running
        // Idle, or a session this process does not hold: nothing to stop, and nothing is kept for later.
        if (running !== undefined) Effect.runFork(stopPrompt(running))
      })

    return { app, awaitIdle: FiberSet.awaitEmpty(fibers) }
  })

/**
 * Serves the agent on `stream` until the client closes it, then waits for the prompts that the
 * close stopped to finish (each saves its session).
 */
export const serve = <Tools extends ReadonlyArray<Tool.Any> = []>(
  stream: Acp.Stream,
  options: Options<Tools> = {}
): Effect.Effect<void, never, Scope.Scope | LanguageModel.LanguageModel | SessionStore | Tool.Requirements<Tools[number]>> =>
  Effect.gen(function*() {
    const agent = yield* make(options)
    const connection = yield* Effect.acquireRelease(
      Effect.sync(() => agent.app.connect(stream)),
      (connection) => Effect.sync(() => connection.close())
    )
    yield* Effect.promise(() => connection.closed)
    yield* agent.awaitIdle
  }).pipe(Effect.withSpan("AcpAgent.serve"))

/** The process's stdin and stdout as an ACP stream of newline-delimited JSON. */
export const stdioStream = (): Acp.Stream =>
  Acp.ndJsonStream(
    Writable.toWeb(process.stdout) as WritableStream<Uint8Array>,
    Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>
  )

/**
 * Serves the agent over this process's stdio, as editors run agents, until the client closes
 * stdin. Stdout carries only the protocol: Effect's log goes to stderr (see `logToStderr`).
 *
 * @example
 * ```ts
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import { AcpAgent, SessionStore } from "@reins/acp"
 * import { OpenAiChat } from "@reins/openai"
 * import { Effect, Layer } from "effect"
 *
 * const model = OpenAiChat.layerConfig({ model: "gpt-5-mini" }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * const store = SessionStore.layerFile(".sessions").pipe(Layer.provide(NodeContext.layer))
 *
 * // Run by an editor as `node agent.js`; it speaks ACP on stdin and stdout.
 * const main = AcpAgent.serveStdio({ name: "my-agent" }).pipe(Effect.scoped, Effect.provide(Layer.merge(model, store)))
 * if (process.env.RUN_AGENT) NodeRuntime.runMain(main)
 * ```
 */
export const serveStdio = <Tools extends ReadonlyArray<Tool.Any> = []>(
  options: Options<Tools> = {}
): Effect.Effect<void, never, Scope.Scope | LanguageModel.LanguageModel | SessionStore | Tool.Requirements<Tools[number]>> =>
  Effect.gen(function*() {
    // Once the connection is over, nothing may keep the process alive waiting on stdin.
    yield* Effect.addFinalizer(() => Effect.sync(() => process.stdin.destroy()))
    yield* serve(stdioStream(), options)
  }).pipe(logToStderr)

/** The log on stderr, for an agent whose stdout is the protocol. */
const stderrLogger = Logger.prettyLogger({ stderr: true, colors: false })

/**
 * Runs `self` with Effect's console loggers (the default one, and the pretty one `runMain` puts in
 * its place), which write to stdout, replaced by one that writes to stderr. `serveStdio` does it;
 * wrap a whole program in it too, so that a failure to build its layers is not printed on stdout.
 */
export const logToStderr = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locallyWith(
    self,
    FiberRef.currentLoggers,
    (loggers) =>
      loggers.pipe(HashSet.remove(Logger.defaultLogger), HashSet.remove(Logger.prettyLoggerDefault), HashSet.add(stderrLogger))
  )
