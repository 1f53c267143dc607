/**
 * What a gateway or proxy in front of a provider answers in its place, often with a 2xx status:
 * its own JSON error object, or an HTML page (a proxy's error page, a login page). The provider's
 * whole answer sent as one JSON object, as when a request's `stream` is lost on the way, is in
 * `Completion`.
 */
import { STATUS_CODES } from "node:http"
import * as Script from "./Script.js"

/** The status and headers of a gateway's answer; 200 unless told. */
export interface AnswerOptions {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** What a gateway's JSON error object says. */
export interface ErrorOptions extends AnswerOptions {
  readonly message?: string
  readonly type?: string
  readonly code?: string | number | null
}

/** A JSON error body `{ error: { message, type, code } }`, with status 200 unless told. */
export const jsonError = (options?: ErrorOptions): Script.Script =>
  Script.body(
    options?.status ?? 200,
    {
      error: {
        message: options?.message ?? "The gateway could not route the request: no such model.",
        type: options?.type ?? "invalid_request_error",
        code: options?.code === undefined ? "model_not_found" : options.code
      }
    },
    options?.headers
  )

/** A JSON error body on 200 that says the upstream is overloaded for now (`type: "overloaded"`, `code: 503`): worth a retry. */
export const overloaded = (options?: ErrorOptions): Script.Script =>
  jsonError({ message: "The upstream model is overloaded, please try again later.", type: "overloaded", code: 503, ...options })

/** An HTML page with `title` and `content` (HTML), sent as `text/html` with status 200 unless told. */
export const html = (title: string, content: string, options?: AnswerOptions): Script.Script =>
  Script.body(
    options?.status ?? 200,
    `<!DOCTYPE html>\n<html>\n<head><title>${title}</title></head>\n<body>\n${content}\n</body>\n</html>\n`,
    { "content-type": "text/html; charset=utf-8", ...options?.headers }
  )

/** The title of a proxy's error page for `status`: "502 Bad Gateway", "429 Too Many Requests", ... */
export const pageTitle = (status: number): string => `${status} ${STATUS_CODES[status] ?? "Error"}`

/** A proxy's error page for `status` (its title says the status), sent with status 200 unless told. */
export const errorPage = (status: number, options?: AnswerOptions): Script.Script =>
  html(pageTitle(status), `<center><h1>${pageTitle(status)}</h1></center>\n<hr><center>reins-test-proxy</center>`, options)

/** A proxy's "502 Bad Gateway" page, on 200 unless told. */
export const badGateway = (options?: AnswerOptions): Script.Script => errorPage(502, options)

/** A single sign-on page, as a network proxy serves to a request it has not let through; on 200 unless told. */
export const loginPage = (options?: AnswerOptions): Script.Script =>
  html(
    "Sign in",
    [
      "<h1>Sign in to continue</h1>",
      "<form method=\"post\" action=\"/login\">",
      "  <label>User <input name=\"user\"></label>",
      "  <label>Password <input name=\"password\" type=\"password\"></label>",
      "  <button type=\"submit\">Sign in</button>",
      "</form>"
    ].join("\n"),
    options
  )
