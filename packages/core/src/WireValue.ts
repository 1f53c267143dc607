/**
 * Reading a field of a decoded provider event, which may not have the type its format documents:
 * a value of the wrong type reads as absent, so a decoder never carries it into a chunk.
 */

/** The value when it is a string (an id, a model, a name), else `undefined`. */
export const string = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/** The value when it is a finite number (a token count), else `undefined`; `1e999` parses to Infinity. */
export const count = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined)
