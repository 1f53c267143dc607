import { defineConfig } from "vitest/config"

const shared = {
  resolve: { conditions: ["@reins/source"] },
  ssr: { resolve: { conditions: ["@reins/source"] } }
}

export default defineConfig({
  ...shared,
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        ...shared,
        test: {
          name: "library",
          include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
          sequence: { groupOrder: 0 }
        }
      },
      {
        // The examples drive a browser and a terminal and time what the user sees: they run after
        // the library's tests, one file at a time, so that those do not compete for the CPU.
        ...shared,
        test: {
          name: "examples",
          include: ["examples/**/*.test.ts"],
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 }
        }
      }
    ]
  }
})
