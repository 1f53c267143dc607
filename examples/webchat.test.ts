import { performance } from "node:perf_hooks"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as WebChat from "./webchat.js"

let browser: Browser

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
})

afterAll(async () => {
  await browser?.close()
})

/** Opens the chat, sends the first prompt and waits until reasoning is on screen and the provider is stalled in silence. */
const askAndWaitForReasoning = async (chat: WebChat.WebChat, page: Page) => {
  await page.goto(chat.url)
  await page.getByTestId("prompt").fill("Is 2^61 - 1 prime?")
  await page.getByTestId("send").click()
  const request = await chat.provider.nextRequest()
  const answer = page.getByTestId("answer").last()
  await expect.poll(() => answer.getByTestId("reasoning").textContent(), { timeout: 10_000 }).toMatch(/\w{3,}/)
  return { request, answer }
}

describe("webchat", () => {
  it("Stop in the page closes the provider connection, and the conversation goes on", async () => {
    const chat = await WebChat.start()
    const page = await browser.newPage()
    try {
      const { answer, request } = await askAndWaitForReasoning(chat, page)
      // when the click event fires in the page (epoch ms; this process's clock is read the same way below)
      await page.evaluate(
        "document.querySelector('[data-testid=stop]').addEventListener('click', () => { window.clickEventAt = performance.timeOrigin + performance.now() }, true)"
      )
      const clickedAt = performance.now()
      await page.getByTestId("stop").click()
      const closedAt = await chat.provider.connectionClosed(request.id)
      const delta = closedAt - clickedAt
      const clickEventAt = (await page.evaluate("window.clickEventAt")) as number
      const fromEvent = performance.timeOrigin + closedAt - clickEventAt
      console.log(
        `webchat: click on Stop -> provider connection closed in ${delta.toFixed(1)} ms `
          + `(${fromEvent.toFixed(1)} ms of it after the click event fired in the page)`
      )
      expect(delta).toBeLessThan(2_000)
      await expect.poll(() => answer.getByTestId("status").textContent(), { timeout: 5_000 }).toBe(" [stopped]")
      expect(await answer.getByTestId("reasoning").textContent()).not.toBe("")

      await page.getByTestId("prompt").fill("Just the short answer, please.")
      await page.getByTestId("send").click()
      const next = page.getByTestId("answer").last()
      await expect.poll(() => next.getByTestId("text").textContent(), { timeout: 10_000 }).toBe("Here is the short answer.")
      await expect.poll(() => next.getAttribute("data-stop-reason"), { timeout: 5_000 }).toBe("stop")
      expect(await next.getByTestId("status").textContent()).toBe("")
      // the second provider request carried the stopped turn: the first prompt, its partial answer, the new prompt
      const second = chat.provider.requests[1]?.json as { messages: ReadonlyArray<{ role: string }> }
      expect(second.messages.map((message) => message.role)).toEqual(["user", "assistant", "user"])
    } finally {
      await page.close().catch(() => undefined)
      await chat.close()
    }
  }, 30_000)

  it("closing the tab closes the provider connection", async () => {
    const chat = await WebChat.start()
    const page = await browser.newPage()
    try {
      const { request } = await askAndWaitForReasoning(chat, page)
      const closingAt = performance.now()
      await page.close()
      const closedAt = await chat.provider.connectionClosed(request.id)
      const delta = closedAt - closingAt
      console.log(`webchat: page.close() -> provider connection closed in ${delta.toFixed(1)} ms`)
      expect(delta).toBeLessThan(2_000)
    } finally {
      await page.close().catch(() => undefined)
      await chat.close()
    }
  }, 30_000)
})
