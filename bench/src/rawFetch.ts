/**
 * The floor: Node's global `fetch` with a small hand-written SSE parser, the least work a client
 * can do with these bytes.
 */

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {})
  })

/** Reads a stream to its text: `textOf` picks the text out of each event's JSON. */
export const streamText = async (
  url: string,
  body: unknown,
  textOf: (json: any) => string | undefined
): Promise<{ text: string; events: number }> => {
  const response = await post(url, body)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  let text = ""
  let events = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    buffer += value
    let end: number
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const event = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const start = event.startsWith("data: ") ? 0 : event.indexOf("\ndata: ") + 1
      if (start === 0 && !event.startsWith("data: ")) continue
      const data = event.slice(start + 6)
      if (data === "[DONE]") continue
      events++
      const piece = textOf(JSON.parse(data))
      if (piece !== undefined) text += piece
    }
  }
  return { text, events }
}

/** Starts a request, waits for its first bytes, and returns the function that aborts it. */
export const openStalled = async (url: string, body: unknown): Promise<() => void> => {
  const controller = new AbortController()
  const response = await post(url, body, controller.signal)
  const reader = response.body!.getReader()
  await reader.read()
  reader.read().catch(() => undefined)
  return () => controller.abort()
}
