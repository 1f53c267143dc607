// Worker threads do not inherit the TypeScript loader: register it, then load the server.
import { register } from "tsx/esm/api"

register()
await import("./workerServer.ts")
