import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as http from "node:http"
import * as Demo from "./demo.js"

/** Runs the demo with `env` as its whole environment, its output kept in the report only. */
const runWith = (env: ReadonlyArray<readonly [string, string]>) =>
  Demo.run({ write: () => {} }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))),
    Effect.provide(NodeHttpClient.layerUndici)
  )

const thinking: Script.Script = {
  steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Let me think about this. "), Script.stall(60_000)]
}

const has = (lines: ReadonlyArray<string>, pattern: RegExp) => lines.some((line) => pattern.test(line))

describe("demo", () => {
  it.scopedLive("locally: the stop lands while the model is silent, the server sees the close, the next request works, and fetch is measured too", () =>
    Effect.gen(function*() {
      const report = yield* runWith([])
      expect(report.mode).toBe("local")
      expect(report.ok).toBe(true)
      expect(report.stops).toHaveLength(2)
      for (const stop of [...report.stops, ...report.fetchStops]) {
        expect(stop.stopped).toBe(true)
        expect(stop.failure).toBeUndefined()
        expect(stop.answering).toBe(false)
        expect(stop.received).toBeGreaterThan(0)
        expect(stop.silentFor).toBeGreaterThanOrEqual(300)
        expect(stop.stopMs).toBeGreaterThanOrEqual(0)
        expect(stop.closedMs).toBeGreaterThanOrEqual(0)
      }
      expect(report.fetchStops).toHaveLength(2)
      expect(report.next).toMatchObject({ ok: true, text: "Yes: 2^61 - 1 is a Mersenne prime.", newConnection: true })

      const { lines } = report
      expect(lines.filter((line) => /^■ Stop pressed .* the model was silent, still thinking\.$/.test(line))).toHaveLength(2)
      expect(lines.filter((line) => /^■ The interrupt took [\d.]+ ms: Fiber\.interrupt returned/.test(line))).toHaveLength(2)
      expect(lines.filter((line) => /^■ The server saw the connection close [\d.]+ ms after Stop was pressed\.$/.test(line))).toHaveLength(2)
      expect(has(lines, /^■ The next request on the same client worked: "Yes: 2\^61 - 1 is a Mersenne prime\." \(on connection #2; #1, the stopped one, is closed\)/))
        .toBe(true)
      expect(lines.filter((line) => /^■ abort\(\) called .* the model was silent, still thinking\.$/.test(line))).toHaveLength(2)
      expect(lines.filter((line) => /^■ The pending read rejected \(AbortError\) [\d.]+ ms after abort\(\)\.$/.test(line))).toHaveLength(2)
      expect(lines.filter((line) => /^■ The server saw the connection close [\d.]+ ms after abort\(\)\.$/.test(line))).toHaveLength(2)
      // the summary quotes the second stops, Reins's and fetch's, as measured
      const [, reins] = report.stops
      const [, plain] = report.fetchStops
      expect(lines.find((line) => line.startsWith("In short:"))).toContain(
        `took ${reins.stopMs!.toFixed(2)} ms with Reins and ${plain.stopMs!.toFixed(2)} ms with fetch + AbortController`
      )
      expect(has(lines, /✗/)).toBe(false)
    }))

  it.scopedLive("against a provider: the client's socket sees the close, and the next request goes out on a new connection", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(thinking, ChatCompletions.reply({ text: "Hello there, friend, from Kimi." }))
      const report = yield* runWith([["MOONSHOT_API_KEY", "sk-demo"], ["MOONSHOT_BASE_URL", `${server.url}/v1`]])
      expect(report.mode).toBe("remote")
      expect(report.ok).toBe(true)
      expect(report.stops[0]).toMatchObject({ stopped: true, answering: false })
      expect(report.next).toMatchObject({ ok: true, text: "Hello there, friend, from Kimi.", newConnection: true })
      expect(has(report.lines, /^■ The client's socket saw the connection close [\d.]+ ms after Stop was pressed\.$/)).toBe(true)
      expect(has(report.lines, /^■ The next request on the same client worked: "Hello there, friend, from Kimi\." \(on a new connection\)\.$/))
        .toBe(true)
      // the server saw it too: the stopped request never finished, and its connection is closed
      const [stopped, next] = server.requests
      expect(stopped.finishedAt).toBeUndefined()
      expect(next.connectionId).not.toBe(stopped.connectionId)
    }))

  it.scopedLive("a 401 is said plainly, with no stop time, and the run is not ok", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(ChatCompletions.errorBody(401, "Incorrect API key provided"), ChatCompletions.errorBody(401, "Incorrect API key provided"))
      const report = yield* runWith([["OPENAI_API_KEY", "sk-wrong"], ["OPENAI_BASE_URL", `${server.url}/v1`]])
      expect(report.ok).toBe(false)
      expect(report.stops[0].stopped).toBe(false)
      expect(report.stops[0].stopMs).toBeUndefined()
      expect(has(report.lines, /^✗ Nothing was stopped: the stream had already failed before Stop was pressed: AuthenticationError \(HTTP 401\)/))
        .toBe(true)
      expect(has(report.lines, /There is no stop time to show\./)).toBe(true)
      expect(has(report.lines, /The interrupt took|saw the connection close|In short/)).toBe(false)
      expect(has(report.lines, /^✗ The next request on the same client failed: AuthenticationError/)).toBe(true)
    }))

  it.scopedLive("a stream that failed before the stop is not reported as stopped", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Script.make([ChatCompletions.start(), ...ChatCompletions.reasoning("Hmm. "), Script.event({ error: { message: "The server had an error", type: "server_error" } })]),
        ChatCompletions.reply({ text: "Hello." })
      )
      const report = yield* runWith([["OPENAI_API_KEY", "sk-demo"], ["OPENAI_BASE_URL", `${server.url}/v1`]])
      expect(report.ok).toBe(false)
      expect(report.stops[0]).toMatchObject({ stopped: false })
      expect(report.stops[0].stopMs).toBeUndefined()
      expect(has(report.lines, /^✗ Nothing was stopped: the stream had already failed before Stop was pressed: /)).toBe(true)
      expect(has(report.lines, /The interrupt took/)).toBe(false)
      expect(report.next).toMatchObject({ ok: true, text: "Hello." })
    }))

  it.scopedLive("a server that cannot be reached is not a model stopped while thinking", () =>
    Effect.gen(function*() {
      // a port taken and released: nothing listens there
      const dead = yield* Effect.promise(() =>
        new Promise<string>((resolve) => {
          const server = http.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as { readonly port: number }
            server.close(() => resolve(`http://127.0.0.1:${port}`))
          })
        })
      )
      const report = yield* runWith([["OPENAI_API_KEY", "sk-demo"], ["OPENAI_BASE_URL", `${dead}/v1`]])
      expect(report.ok).toBe(false)
      expect(report.stops[0]).toMatchObject({ reached: false, received: 0 })
      expect(report.stops[0].closedMs).toBeUndefined()
      expect(has(report.lines, /the request had not reached the server yet: no model was running\.$/)).toBe(true)
      expect(has(report.lines, /was silent|saw the connection close|In short/)).toBe(false)
      expect(has(report.lines, /^✗ The next request on the same client failed: ConnectionError/)).toBe(true)
    }))

  it.scopedLive("the program exits with code 1 when something failed", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(ChatCompletions.errorBody(401, "Incorrect API key provided"), ChatCompletions.errorBody(401, "Incorrect API key provided"))
      const { code, output } = yield* Effect.promise(() =>
        new Promise<{ readonly code: number | null; readonly output: string }>((resolve) => {
          const { MOONSHOT_API_KEY: _moonshot, ...env } = process.env
          const child = spawn(process.execPath, ["--conditions=@reins/source", "--import", "tsx", "examples/demo.ts"], {
            env: { ...env, OPENAI_API_KEY: "sk-wrong", OPENAI_BASE_URL: `${server.url}/v1` },
            stdio: ["ignore", "pipe", "pipe"]
          })
          let output = ""
          child.stdout.on("data", (data) => output += String(data))
          child.stderr.on("data", (data) => output += String(data))
          child.on("close", (code) => resolve({ code, output }))
        })
      )
      expect(output).toContain("✗ Nothing was stopped")
      expect(code).toBe(1)
    }))
})
