/**
 * The tool-call ids a request body gives its calls and their results. Providers reject a request
 * that repeats a call id (Anthropic's `tool_use`, OpenAI's `call_id`), and histories can repeat one:
 * a compatible server that numbers the calls of each response, a history stored before ids were made
 * unique. A call whose id was already sent gets the next free `<id>_<n>`, and the result that
 * answers it (the first after it with the conversation's id) gets the same. The same history always
 * encodes to the same ids, so cached prompt prefixes stay valid. Plain TypeScript, for the encoders.
 */
export class RequestIds {
  private readonly sent = new Set<string>()
  /** The calls of the latest assistant message still waiting for a result, by conversation id. */
  private open = new Map<string, Array<string>>()

  /** `fit` turns a conversation id into one the provider accepts (its character set, say). */
  constructor(private readonly fit: (id: string) => string = (id) => id) {}

  /** Starts an assistant message's calls: results answer the calls of the message before them. */
  step(): void {
    this.open = new Map()
  }

  /** The id a call is sent with. */
  call(id: string): string {
    const base = this.fit(id)
    let wire = base
    for (let n = 2; this.sent.has(wire); n++) wire = `${base}_${n}`
    this.sent.add(wire)
    const open = this.open.get(id)
    if (open === undefined) this.open.set(id, [wire])
    else open.push(wire)
    return wire
  }

  /** The id a result is sent with: that of the first call it can answer. */
  result(id: string): string {
    return this.open.get(id)?.shift() ?? this.fit(id)
  }
}
