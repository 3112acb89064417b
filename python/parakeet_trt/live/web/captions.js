// Applies the patch protocol (docs/PATCH_PROTOCOL.md) to the DOM. Each segment is a block
// (<div class="segment">); committed text lives in <span class="committed"> nodes that are appended
// once and never touched again; only the partial span is rewritten (and moved to the next segment at
// a final). Offsets are Unicode code points (Array.from), as the protocol counts them.
// The caption area follows the live edge unless the reader scrolled up ("jump to live" brings it back).
// After each event is painted the page reports {"type": "rendered", "seq", "render_ms"}.
// Polish events (the LLM lane) fill a second layer, the #polished column beside the captions: one
// block per polished segment, rewritten when a later polish event names it; the caption area and its
// committed nodes are never touched by them, so what the reader is reading does not move.
(function () {
  "use strict";
  const main = document.getElementById("captions");
  const partial = document.getElementById("partial");
  const status = document.getElementById("status");
  const finalsCount = document.getElementById("finals-count");
  const jump = document.getElementById("jump-to-live");
  const polishedView = document.getElementById("polished");
  const state = { text: [], committedLen: 0, shownCommitted: 0, lastSeq: 0, finals: [], renders: 0, errors: [],
                  inputEnded: false, follow: true, autoScrollTop: -1,
                  polished: {}, lastPolishSeq: 0 };
  window.__captions = state;
  let openSegment = partial.parentNode;

  // --- following the live edge ---------------------------------------------------------------
  function atLiveEdge() { return main.scrollHeight - main.scrollTop - main.clientHeight < 8; }
  function toLiveEdge() {
    main.scrollTop = main.scrollHeight;
    state.autoScrollTop = main.scrollTop;
  }
  main.addEventListener("scroll", () => {
    if (Math.abs(main.scrollTop - state.autoScrollTop) <= 1) return;  // our own scroll
    state.follow = atLiveEdge();
    jump.hidden = state.follow;
  });
  jump.addEventListener("click", () => { state.follow = true; jump.hidden = true; toLiveEdge(); });

  // --- the text ------------------------------------------------------------------------------
  function appendCommitted(upTo) {
    if (upTo <= state.shownCommitted) return;
    const span = document.createElement("span");
    span.className = "committed";
    span.textContent = state.text.slice(state.shownCommitted, upTo).join("");
    openSegment.insertBefore(span, partial);
    state.shownCommitted = upTo;
  }

  function endSegment(final) {
    state.finals.push(final.text);
    openSegment.classList.remove("open");
    openSegment.dataset.segment = String(final.segment);
    openSegment = document.createElement("div");
    openSegment.className = "segment open";
    main.appendChild(openSegment);
    openSegment.appendChild(partial);
    finalsCount.textContent = state.finals.length + (state.finals.length === 1 ? " final" : " finals");
  }

  function showInputEnded() {
    state.inputEnded = true;
    status.textContent = "input ended · these captions stay until the server stops";
    status.className = "ended";
  }

  function applyPolish(event) {
    document.body.classList.add("polish-lane");
    if (event.seq <= state.lastPolishSeq) return;
    state.lastPolishSeq = event.seq;
    state.polished[event.segment] = event.text;
    let block = polishedView.querySelector('[data-segment="' + event.segment + '"]');
    if (!block) {
      block = document.createElement("div");
      block.className = "polished-segment";
      block.dataset.segment = String(event.segment);
      const later = Array.from(polishedView.children).find((b) => Number(b.dataset.segment) > event.segment);
      polishedView.insertBefore(block, later || null);
    }
    block.textContent = event.text;
    block.title = (event.edits || []).map((e) => e.kind + ": " + e.before + " → " + e.after).join("\n");
  }

  function applySnapshot(event) {
    // A late join or a resync: the committed prefix never changes, so only what is new is appended,
    // segment by segment as the finals say.
    state.text = Array.from(event.text);
    state.committedLen = event.committed_len;
    state.lastSeq = event.seq;
    const finals = event.finals || [];
    let end = 0;
    finals.forEach((final, index) => {
      end += Array.from(final.text).length;
      if (index < state.finals.length) return;  // already shown
      if (end >= state.shownCommitted) appendCommitted(end);
      endSegment(final);
    });
    appendCommitted(state.committedLen);
    partial.textContent = state.text.slice(state.committedLen).join("");
    if (event.polish_lane) document.body.classList.add("polish-lane");
    (event.polished || []).forEach(applyPolish);
    if (event.input_ended) showInputEnded();
  }

  function apply(event) {
    if (event.type === "status") {
      if (event.error) state.errors.push(event.error);
      if (event.input === "ended") showInputEnded();
      return;
    }
    if (event.type === "snapshot") { applySnapshot(event); return; }
    if (event.type === "polish") { applyPolish(event); return; }
    if (event.seq <= state.lastSeq) return;  // already reflected by a snapshot
    state.lastSeq = event.seq;
    if (event.type === "final") { endSegment(event); return; }
    state.text = state.text.slice(0, event.replace_from).concat(Array.from(event.text));
    state.committedLen = event.committed_len;
    appendCommitted(state.committedLen);
    partial.textContent = state.text.slice(state.committedLen).join("");
  }

  function connect() {
    const ws = new WebSocket("ws://" + location.host + "/ws" + location.search);  // passes on ?token=
    ws.onopen = () => { if (!state.inputEnded) { status.textContent = "connected"; status.className = ""; } };
    ws.onclose = () => {
      state.closed = true;
      status.textContent = state.inputEnded ? "server stopped" : "disconnected: reload to reconnect";
      status.className = "disconnected";
    };
    ws.onmessage = (message) => {
      const received = performance.now();
      const event = JSON.parse(message.data);
      apply(event);
      if (state.follow) toLiveEdge();
      if (typeof event.seq !== "number" || event.type === "snapshot" || event.type === "polish") return;
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
