/**
 * CPU time of this process's main thread, where the OS reports it per thread (Linux). A server
 * in a worker thread and the collector's helper threads are not in it, unlike `process.cpuUsage()`;
 * and unlike the event loop's utilisation it does not count time the thread waited for a core,
 * which on a shared machine is most of the difference between runs.
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
