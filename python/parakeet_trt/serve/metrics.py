"""The server's counters and the update-latency histogram, as Prometheus text (``GET /metrics``).

Each replica counts into its own ``ServeMetrics``; ``MetricsHub`` (one Ray actor, no CPU) gathers the
replicas' states so ``/metrics`` on any replica answers for the whole deployment. A replica that has not
reported for ``STALE_S`` no longer counts in the gauges (it died); its counters stay (they only grow).
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict

PREFIX = "parakeet_serve"
LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
STALE_S = 5.0
HUB_NAME = "parakeet_trt_serve_metrics"

HELP = {
    "streams_active": ("gauge", "live streams open now"),
    "streams_total": ("counter", "live streams accepted"),
    "stream_closes_total": ("counter", "live streams closed, by websocket close code"),
    "steps_total": ("counter", "engine steps (encoder + decoder updates) of all streams"),
    "audio_seconds_total": ("counter", "seconds of audio received by live streams"),
    "rejections_total": ("counter", "requests and streams refused or cut, by reason"),
    "transcriptions_total": ("counter", "files transcribed by /v1/audio/transcriptions"),
    "polish_events_total": ("counter", "polish events sent by the LLM lane of live streams (--llm-url)"),
    "polish_rejected_total": ("counter", "finals whose LLM answer the guardrails rejected (the raw text stood)"),
    "update_latency_seconds": ("histogram", "frame received to event sent, per event"),
}


class ServeMetrics:
    """One replica's metrics: plain numbers, so a state merges by adding."""

    def __init__(self):
        self.gauges: dict[str, float] = defaultdict(float)
        self.counters: dict[str, float] = defaultdict(float)  # key: 'name' or 'name{label="v"}'
        self.latency_counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.latency_sum = 0.0

    def count(self, name: str, value: float = 1.0, **labels) -> None:
        key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
        self.counters[key] += value

    def reject(self, reason: str) -> None:
        self.count("rejections_total", reason=reason)

    def latency(self, seconds: float) -> None:
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.latency_sum += seconds

    def state(self) -> dict:
        return {"gauges": dict(self.gauges), "counters": dict(self.counters),
                "latency_counts": list(self.latency_counts), "latency_sum": self.latency_sum}


def merge(states: list[dict]) -> dict:
    out = {"gauges": defaultdict(float), "counters": defaultdict(float),
           "latency_counts": [0] * (len(LATENCY_BUCKETS_S) + 1), "latency_sum": 0.0}
    for state in states:
        for part in ("gauges", "counters"):
            for key, value in state[part].items():
                out[part][key] += value
        out["latency_counts"] = [a + b for a, b in zip(out["latency_counts"], state["latency_counts"])]
        out["latency_sum"] += state["latency_sum"]
    return out


def render(state: dict, replicas: int) -> str:
    """Prometheus text exposition format."""
    lines = [f"# HELP {PREFIX}_replicas replicas reporting", f"# TYPE {PREFIX}_replicas gauge",
             f"{PREFIX}_replicas {replicas}"]
    series = {**state["gauges"], **state["counters"]}
    for name, (kind, text) in HELP.items():
        lines += [f"# HELP {PREFIX}_{name} {text}", f"# TYPE {PREFIX}_{name} {kind}"]
        if kind == "histogram":
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, "+Inf"), state["latency_counts"]):
                cumulative += count
                lines.append(f'{PREFIX}_{name}_bucket{{le="{bound}"}} {cumulative}')
            lines += [f"{PREFIX}_{name}_sum {state['latency_sum']:.6f}", f"{PREFIX}_{name}_count {cumulative}"]
            continue
        keys = sorted(k for k in series if k == name or k.startswith(name + "{"))
        for key in keys or ([name] if kind == "gauge" or "{" not in name else []):
            lines.append(f"{PREFIX}_{key} {series.get(key, 0):g}")
    return "\n".join(lines) + "\n"


class MetricsHub:
    """The replicas' latest states (a Ray actor: ``ray.remote(num_cpus=0)(MetricsHub)``)."""

    def __init__(self):
        self.states: dict[str, tuple[float, dict]] = {}

    def put(self, replica: str, state: dict) -> None:
        self.states[replica] = (time.monotonic(), state)

    def merged(self) -> tuple[dict, int]:
        now = time.monotonic()
        states, live = [], 0
        for stamp, state in self.states.values():
            if now - stamp > STALE_S:  # a dead replica: its gauges no longer hold
                state = {**state, "gauges": {}}
            else:
                live += 1
            states.append(state)
        return merge(states), live
