/**
 * The API reference builds, and with it every `@example` of the public modules typechecks and
 * runs: each package goes through `@effect/docgen`, as `npm run docs` does, so an example that no
 * longer matches the code fails here with the compiler's message.
 */
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const packages = ["core", "openai", "anthropic", "google", "kimi", "testing", "acp", "mcp"]

interface Run {
  readonly code: number | null
  readonly output: string
}

/** Runs docgen in `cwd`, killing it (and the tsc and tsx it starts) if it outlives `timeoutMs`. */
const docgen = (cwd: string, timeoutMs: number): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(path.join(root, "node_modules", ".bin", "docgen"), [], {
      cwd,
      detached: true,
      env: {
        ...process.env,
        PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
        // The examples run under tsx, which resolves the workspace's packages through Node.
        NODE_OPTIONS: "--conditions=@reins/source",
        NO_COLOR: "1",
        FORCE_COLOR: "0"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (data: Buffer) => void (output += data.toString()))
    child.stderr.on("data", (data: Buffer) => void (output += data.toString()))
    const timer = setTimeout(() => {
      output += `\ndocgen did not finish within ${timeoutMs} ms`
      process.kill(-child.pid!, "SIGKILL")
    }, timeoutMs)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

interface DocgenConfig {
  readonly exclude?: ReadonlyArray<string>
}

interface PackageJson {
  readonly exports: Record<string, string | Record<string, string>>
}

/**
 * The package's source files by role: those the reference documents, the public entry points
 * (every export but the index and `./internal/*`), and the internal ones.
 */
const sources = (dir: string) => {
  const config = JSON.parse(readFileSync(path.join(dir, "docgen.json"), "utf8")) as DocgenConfig
  const excluded = new Set(config.exclude ?? [])
  // Plain paths only, so that this split is the one docgen makes.
  for (const entry of excluded) expect(entry, "docgen.json's exclude lists files, not patterns").not.toMatch(/[*?[{]/)
  const files = readdirSync(path.join(dir, "src"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => `src/${file.split(path.sep).join("/")}`)
    .sort()
  const { exports } = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as PackageJson
  const entries = Object.entries(exports).flatMap(([key, target]) => {
    const source = typeof target === "string" ? undefined : target["@reins/source"]
    return source === undefined || key === "." ? [] : [{ key, file: source.replace(/^\.\//, "") }]
  })
  return {
    documented: files.filter((file) => !excluded.has(file)),
    public: entries.filter(({ key }) => !key.startsWith("./internal/")).map(({ file }) => file).sort(),
    internal: entries.filter(({ key }) => key.startsWith("./internal/")).map(({ file }) => file).sort()
  }
}

/** Runs at most `n` of the given tasks at once. */
const limit = (n: number) => {
  let running = 0
  const queue: Array<() => void> = []
  return async <A>(task: () => Promise<A>): Promise<A> => {
    if (running >= n) await new Promise<void>((resolve) => queue.push(resolve))
    running++
    try {
      return await task()
    } finally {
      running--
      queue.shift()?.()
    }
  }
}

// Two at a time: each docgen is a compiler run or two, bound by the CPU, and CI has two cores.
const slot = limit(2)

const examplesIn = (dir: string, file: string): number =>
  readFileSync(path.join(dir, file), "utf8").match(/^\s*\*\s*@example\b/gm)?.length ?? 0

describe("the API reference", () => {
  for (const name of packages) {
    it.concurrent(`@reins/${name}: builds, with every example typechecked and run`, async () => {
      const dir = path.join(root, "packages", name)
      const files = sources(dir)
      // The reference is the package's public API: a module not exported yet is left out until it is.
      expect(files.documented, `packages/${name}/docgen.json's exclude must leave exactly the public entry points`)
        .toEqual(files.public)
      const run = await slot(() => docgen(dir, 110_000))
      if (run.code !== 0) {
        throw new Error(`docgen failed in packages/${name} (the example files it names are kept under docs/examples):\n${run.output}`)
      }
      // docgen checks the examples of functions, constants, types, methods and modules, but not
      // those written on a class itself, nor any in a module the reference leaves out.
      const unchecked = files.internal.filter((file) => examplesIn(dir, file) > 0)
      expect(unchecked, "internal modules have @example tags that nothing checks").toEqual([])
      const tagged = files.documented.reduce((sum, file) => sum + examplesIn(dir, file), 0)
      const found = Number(/(\d+) example\(s\) found/.exec(run.output)?.[1] ?? 0)
      expect(
        found,
        `docgen checked ${found} of the ${tagged} @example tags in packages/${name}/src: one on a class is shown but not checked (put it on a method or the module comment), and one on something not exported is neither`
      ).toBe(tagged)
    }, 240_000)
  }
})
