/**
 * What Linux's /proc says about this process (elsewhere, `undefined`): the CPU time of its main
 * thread, and how often a listen queue overflowed. The main thread's CPU leaves out a server in a
 * worker thread and the collector's helper threads, unlike `process.cpuUsage()`; and unlike the
 * event loop's utilisation it does not count time the thread waited for a core, which on a shared
 * machine is most of the difference between runs.
 */
import * as fs from "node:fs"

const path = `/proc/self/task/${process.pid}/schedstat`
const available = (() => {
  try {
    fs.readFileSync(path, "utf8")
    return true
  } catch {
    return false
  }
})()

/** Milliseconds the main thread has run on a core so far, or `undefined` where the OS does not say. */
export const threadCpuMs = (): number | undefined =>
  available ? Number(fs.readFileSync(path, "utf8").split(" ")[0]) / 1e6 : undefined

/**
 * How many times a listen queue has overflowed on this machine (a SYN dropped, which the client
 * resends only after a second), or `undefined` where the OS does not say.
 */
export const listenOverflows = (): number | undefined => {
  try {
    const [names, values] = fs.readFileSync("/proc/net/netstat", "utf8").split("\n")
    const at = names.split(" ").indexOf("ListenOverflows")
    return at === -1 ? undefined : Number(values.split(" ")[at])
  } catch {
    return undefined
  }
}
