"""The live pipeline, as tiles: source -> DSP (resample, AGC, VAD) -> fan-out bus -> engine lane (the
core's LiveStream: its lanes and aggregator) -> sinks. ``run_live`` runs it to the end of the input (or Ctrl-C) and returns a summary;
with ``serve_until_interrupted`` (the browser UI) the sinks are told the input ended and stay up
until Ctrl-C, so a page can still be loaded and read.

Failure handling: a source that breaks mid-stream (or Ctrl-C) ends the input, and the lane still
finishes, so everything heard so far is committed and finalized; a sink that fails is reported and
dropped while the others continue.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field

from parakeet_trt.errors import DurableSinkError
from parakeet_trt.live.bus import FanOutBus
from parakeet_trt.live.dsp import DspStage
from parakeet_trt.live.engine_lane import CommitPolicy, EngineLane, StreamingOptions
from parakeet_trt.live.metrics import MetricsRecorder


# Finals at pauses by default: 300 ms of VAD silence ends a segment. It is checked at each step's end
# (every --chunk-ms), so a final comes 300 to 300 + chunk ms into a pause (docs/DECISION_LOG.md,
# "Endpoint VAD on by default").
DEFAULT_ENDPOINT_VAD_MS = 300


def default_policy() -> CommitPolicy:
    return CommitPolicy(endpoint_vad_ms=DEFAULT_ENDPOINT_VAD_MS)


@dataclass
class LiveConfig:
    model: str | None = None
    agc: bool = False
    vad: str = "silero"               # none | energy | silero (Silero VAD's ONNX model: segments at pauses)
    streaming: StreamingOptions = field(default_factory=StreamingOptions)
    policy: CommitPolicy = field(default_factory=default_policy)
    llm: "LlmOptions | None" = None   # the LLM polish lane (parakeet_trt.llm); None: no lane


def log(message: str) -> None:
    print(f"[live] {message}", file=sys.stderr, flush=True)


async def _produce(source, dsp: DspStage, bus: FanOutBus, errors: list) -> None:
    last = None
    try:
        async for block in source.blocks():
            last = block
            await bus.publish(dsp.process(block))
    except asyncio.CancelledError:
        pass
    except Exception as error:  # the input broke: what was heard is still finished and committed
        errors.append(error)
        log(f"audio source stopped: {error}")
    finally:
        if last is not None:
            import numpy as np

            tail = dsp.process(type(last)(np.zeros(0, np.float32), last.sample_rate_hz, last.capture_time,
                                          last.lossless), last=True)
            if len(tail.samples):
                await bus.publish(tail)
        await bus.close()


async def _feed(reader, lane: EngineLane) -> None:
    try:
        async for block in reader:
            await lane.write(block)
    finally:
        lane.close()


async def _deliver(lane: EngineLane, sinks: list, metrics: MetricsRecorder, on_event=None,
                   stop_input=None) -> None:
    failure = None  # a DurableSinkError: the input stops, the lane finishes what it holds, the run fails
    async for event in lane.events():
        if failure is not None:
            continue
        metrics.event(event)
        for sink in list(sinks):
            try:
                await sink.emit(event)
            except DurableSinkError as error:  # the event log: its failure ends the run with an error
                failure = failure or error
                if stop_input is not None:
                    stop_input()
            except Exception as error:
                log(f"sink {sink.name} failed and was dropped: {error}")
                sinks.remove(sink)
        if on_event is not None:
            on_event(event)
    if failure is not None:
        raise failure


async def run_live(source, sinks: list, config: LiveConfig | None = None, *, session=None, on_event=None,
                   on_ready=None, serve_until_interrupted: bool = False, lane_engines: dict | None = None) -> dict:
    """Runs the pipeline; returns {"metrics": ..., "lane": ..., "errors": [...], "interrupted": bool}.

    sinks: objects with start(lane), emit(event), close(), and optionally input_ended() (called once the
    last event is out). on_ready(lane) is called once the sinks have started (e.g. to open a browser
    on the web sink's URL) and may be a coroutine function. Ctrl-C (SIGINT, main thread only) ends the
    input; a second Ctrl-C stops at once (KeyboardInterrupt). lane_engines: {lane name: engine} for lanes
    that run on an engine of their own (aggregator v2/v3)."""
    from parakeet_trt.session import Session

    config = config or LiveConfig()
    session = session or Session(config.model, allow_spinning=False)  # many short calls: block, do not spin
    origin = time.monotonic()
    streaming = config.streaming
    if config.llm is not None:
        from parakeet_trt.llm.options import with_candidate_lanes

        streaming = with_candidate_lanes(streaming)
    lane = EngineLane(session, streaming=streaming, policy=config.policy, clock_origin=origin,
                      lane_engines=lane_engines)
    metrics = MetricsRecorder(origin, lambda t: lane.clock.capture_time(int(t * lane.rate)))
    polish = _start_polish_lane(config.llm, sinks, origin)
    if polish is not None:
        on_event = _also_polish(polish, on_event)
    for sink in sinks:
        if getattr(sink, "metrics", "absent") is None:
            sink.metrics = metrics
        await sink.start(lane)
    if on_ready is not None:
        ready = on_ready(lane)
        if asyncio.iscoroutine(ready):
            await ready
    dsp = DspStage(session.sample_rate_hz, agc=config.agc, vad=config.vad)
    bus = FanOutBus()
    reader = bus.subscribe(lane.name, lossless=True)
    errors: list = []
    producer = asyncio.create_task(_produce(source, dsp, bus, errors))
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()

    def on_interrupt():  # the first Ctrl-C ends the input; the lane then finishes, so what was heard is committed
        interrupted.set()
        producer.cancel()
        _remove_sigint_handler(loop)  # a second one stops at once

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        can_wait_for_interrupt = True
    except (RuntimeError, ValueError, NotImplementedError):
        can_wait_for_interrupt = False  # not the main thread (tests) or no signals on this platform
    feeder = asyncio.create_task(_feed(reader, lane))
    try:
        await _deliver(lane, sinks, metrics, on_event, stop_input=producer.cancel)
        if polish is not None:
            await polish.finish()
        for sink in sinks:
            if hasattr(sink, "input_ended"):
                await sink.input_ended()
        if serve_until_interrupted and can_wait_for_interrupt and not interrupted.is_set():
            log("the input ended; still serving the captions until Ctrl-C")
            await interrupted.wait()
    finally:
        if polish is not None:
            await polish.finish(timeout_s=0.0)  # no-op when already finished
        producer.cancel()
        await asyncio.gather(producer, feeder, return_exceptions=True)
        _remove_sigint_handler(loop)
        for sink in sinks:
            await sink.close()
    return {"metrics": metrics.summary(), "errors": [str(e) for e in errors], "interrupted": interrupted.is_set(),
            **({"polish": polish.summary()} if polish is not None else {}),
            "lane": {"steps": lane.steps, "samples": lane.samples_written, "dropped_samples": lane.dropped_samples,
                     "alignment_conflicts": lane.transcript.alignment_conflicts,
                     "lane_notices": lane.lane_notices, "lanes": lane.live.lane_stats(),
                     "committed_text": lane.transcript.committed_text}}


def _start_polish_lane(options, sinks: list, origin: float):
    """The LLM lane (off the caption path): its polish events go to the same sinks, after the fact."""
    if options is None:
        return None
    from parakeet_trt.llm.lane import PolishLane

    for sink in sinks:
        sink.polish_lane = True  # the browser page lays out its polished column before the first caption

    async def emit(event: dict) -> None:
        for sink in list(sinks):
            try:
                await sink.emit(event)
            except Exception as error:  # a failing sink is the caption path's business; the lane goes on
                log(f"sink {sink.name} failed on a polish event: {error}")

    return PolishLane(options, emit, log=log, clock_origin=origin)


def _also_polish(polish, on_event):
    def hook(event: dict) -> None:
        if event.get("type") == "final":
            polish.submit_final(event)
        if on_event is not None:
            on_event(event)

    return hook


def _remove_sigint_handler(loop) -> None:
    try:
        loop.remove_signal_handler(signal.SIGINT)
    except (RuntimeError, ValueError, NotImplementedError):
        pass
