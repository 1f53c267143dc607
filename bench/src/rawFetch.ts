/**
 * The floor: Node's global `fetch` with a small hand-written SSE parser and Chat Completions
 * fold, the least work a client can do with these bytes.
 */

/** Reads a Chat Completions stream to its text, counting events. */
export const chatText = async (url: string, body: unknown): Promise<{ text: string; events: number }> => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
    body: JSON.stringify(body)
  })
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
      if (!event.startsWith("data: ")) continue
      const data = event.slice(6)
      if (data === "[DONE]") continue
      events++
      const content = JSON.parse(data).choices?.[0]?.delta?.content
      if (typeof content === "string") text += content
    }
  }
  return { text, events }
}

/** Starts a request, waits for its first bytes, and returns the function that aborts it. */
export const openStalled = async (url: string, body: unknown): Promise<() => void> => {
  const controller = new AbortController()
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
    body: JSON.stringify(body),
    signal: controller.signal
  })
  const reader = response.body!.getReader()
  await reader.read()
  reader.read().catch(() => undefined)
  return () => controller.abort()
}
