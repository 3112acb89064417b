// Applies the patch protocol (docs/PATCH_PROTOCOL.md) to the DOM. Committed text lives in
// <span class="committed"> nodes that are appended once and never touched again; only the partial
// span is rewritten. Offsets are Unicode code points (Array.from), as the protocol counts them.
// After each event is painted the page reports {"type": "rendered", "seq", "render_ms"}.
(function () {
  "use strict";
  const main = document.getElementById("captions");
  const partial = document.getElementById("partial");
  const status = document.getElementById("status");
  const finalsCount = document.getElementById("finals-count");
  const state = { text: [], committedLen: 0, shownCommitted: 0, lastSeq: 0, finals: [], renders: 0, errors: [] };
  window.__captions = state;

  function appendCommitted(upTo) {
    if (upTo <= state.shownCommitted) return;
    const span = document.createElement("span");
    span.className = "committed";
    span.textContent = state.text.slice(state.shownCommitted, upTo).join("");
    main.insertBefore(span, partial);
    state.shownCommitted = upTo;
  }

  function apply(event) {
    if (event.type === "status") {
      if (event.error) state.errors.push(event.error);
      return;
    }
    if (event.type === "snapshot") {
      // A resync: the committed prefix never changes, so only what is new gets appended.
      state.text = Array.from(event.text);
      state.committedLen = event.committed_len;
      state.lastSeq = event.seq;
      appendCommitted(state.committedLen);
      partial.textContent = state.text.slice(state.committedLen).join("");
      return;
    }
    if (event.seq <= state.lastSeq) return;  // already reflected by a snapshot
    state.lastSeq = event.seq;
    if (event.type === "final") {
      state.finals.push(event.text);
      const marker = document.createElement("span");
      marker.className = "segment-end";
      marker.dataset.segment = String(event.segment);
      main.insertBefore(marker, partial);
      finalsCount.textContent = state.finals.length + " final(s)";
      return;
    }
    state.text = state.text.slice(0, event.replace_from).concat(Array.from(event.text));
    state.committedLen = event.committed_len;
    appendCommitted(state.committedLen);
    partial.textContent = state.text.slice(state.committedLen).join("");
  }

  function connect() {
    const ws = new WebSocket("ws://" + location.host + "/ws");
    ws.onopen = () => { status.textContent = "live"; };
    ws.onclose = () => { status.textContent = "disconnected"; state.closed = true; };
    ws.onmessage = (message) => {
      const received = performance.now();
      const event = JSON.parse(message.data);
      apply(event);
      if (typeof event.seq !== "number" || event.type === "snapshot") return;
      // requestAnimationFrame runs before the next paint; the timeout after it runs once painted.
      requestAnimationFrame(() => setTimeout(() => {
        const renderMs = performance.now() - received;
        state.renders += 1;
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "rendered", seq: event.seq, render_ms: renderMs }));
      }, 0));
    };
    state.socket = ws;
  }
  connect();
})();
