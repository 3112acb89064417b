"""Headless Chromium for the browser sink's tests and demo: the system ``chromium`` driven by
Playwright, with a MutationObserver that records every change to a committed caption node."""

from __future__ import annotations

import shutil

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Runs before the page's own script: any mutation of a committed span (its text, attributes or
# children) or the removal of one is a violation the page must never cause.
COMMITTED_NODE_WATCH = """
window.__violations = [];
document.addEventListener("DOMContentLoaded", () => {
  const isCommitted = (node) => {
    for (let n = node; n; n = n.parentNode) {
      if (n.classList && n.classList.contains("committed")) return true;
    }
    return false;
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (isCommitted(m.target)) window.__violations.push(m.type + " on committed text");
      for (const n of m.removedNodes) {
        if (isCommitted(n)) window.__violations.push("a committed node was removed");
      }
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
});
"""


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


async def launch(playwright):
    path = chromium_path()
    if path is None:
        raise RuntimeError("no system chromium (apt-get install -y chromium)")
    return await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


async def open_captions(browser, url: str, *, width: int = 1000, height: int = 420):
    page = await browser.new_page(viewport={"width": width, "height": height})
    await page.add_init_script(COMMITTED_NODE_WATCH)
    await page.goto(url)
    await page.wait_for_function("window.__captions && window.__captions.socket && window.__captions.socket.readyState === 1")
    return page


async def page_state(page) -> dict:
    return await page.evaluate("""() => ({
        committed: Array.from(document.querySelectorAll('.committed')).map(n => n.textContent).join(''),
        partial: document.getElementById('partial').textContent,
        text: window.__captions.text.join(''),
        committedLen: window.__captions.committedLen,
        finals: window.__captions.finals,
        renders: window.__captions.renders,
        violations: window.__violations,
    })""")
