"""The Ray Serve deployment: a FastAPI ingress whose replicas each hold one ``Session`` (the model and
its engines, shared by every stream) and many live streams.

Routes: ``GET /healthz``, ``GET /metrics`` (no API key: docs/DECISION_LOG.md); ``GET /v1/models``,
``POST /v1/audio/transcriptions``, ``GET /v1/stream`` (websocket) (the API key when one is configured; websockets
also the Origin list). Every route checks the Host header against --allowed-hosts first (HTTP 400, websocket 1008).
"""


import asyncio

import ray
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse
from ray import serve

from parakeet_trt.serve.auth import host_error, key_error, origin_error
from parakeet_trt.serve.config import ServeConfig
from parakeet_trt.serve.metrics import HUB_NAME, MetricsHub, ServeMetrics, render
from parakeet_trt.serve.openai_api import (RequestError, check_request, models_list, response_body,
                                           transcribe_upload)
from parakeet_trt.serve.stream import CLOSE_POLICY, LiveWebSocketStream, StreamClosed, StreamSlots, close_stream

HUB_NAMESPACE = "parakeet_trt"
METRICS_PUSH_S = 1.0
# HTTP requests a replica takes beside its streams (health checks, metrics, uploads).
HTTP_HEADROOM = 16

api = FastAPI(title="parakeet-trt serve", docs_url=None, redoc_url=None)


def metrics_hub():
    return ray.remote(MetricsHub).options(name=HUB_NAME, namespace=HUB_NAMESPACE, get_if_exists=True,
                                          lifetime="detached", num_cpus=0).remote()


@serve.deployment
@serve.ingress(api)
class ParakeetServer:
    def __init__(self, config: ServeConfig):
        from parakeet_trt.session import Session

        self.config, self.limits = config, config.limits
        self.batching = config.batching.replica_options()
        # Many streams' short calls: the encoder's threads block between them instead of spinning.
        self.session = Session(config.model, batching=self.batching, allow_spinning=False)
        self.slots = StreamSlots(self.limits.max_streams_per_replica)
        self.metrics = ServeMetrics()
        context = ray.get_runtime_context()
        self.about = {"replica": serve.get_replica_context().replica_id.unique_id, "node_id": context.get_node_id(),
                      "actor_name": context.get_actor_name()}
        self.hub = metrics_hub()
        self._pusher: asyncio.Task | None = None

    def _push_metrics(self):
        return self.hub.put.remote(self.about["replica"], self.metrics.state())

    async def _push_forever(self) -> None:
        while True:
            self._push_metrics()
            await asyncio.sleep(METRICS_PUSH_S)

    def _start_pushing(self) -> None:
        if self._pusher is None:
            self._pusher = asyncio.get_running_loop().create_task(self._push_forever())

    def _refused(self, status: int, message: str, reason: str, param: str | None = None) -> JSONResponse:
        self.metrics.reject(reason)
        return JSONResponse(RequestError(status, message, param).body(), status_code=status)

    def _http_host_error(self, request: Request) -> JSONResponse | None:
        error = host_error(request.headers.get("host"), self.config.allowed_hosts)
        return self._refused(400, error, "host") if error else None

    def _http_key_error(self, request: Request) -> JSONResponse | None:
        error = key_error(self.config.api_key, request.headers.get("authorization"), None)
        return self._http_host_error(request) or (self._refused(401, error, "auth") if error else None)

    @api.get("/healthz")
    async def healthz(self, request: Request):
        self._start_pushing()
        refused = self._http_host_error(request)
        if refused:
            return refused
        from parakeet_trt import _core

        batching = (_core.batching_stats(self.session.encoder_engine)
                    if self.batching is not None and self.session.encoder_engine is not None else None)
        return {"status": "ok", "model": self.config.model_name, "streams_active": self.slots.active,
                "max_streams": self.slots.limit, "encoder_batching": batching, **self.about}

    @api.get("/metrics")
    async def metrics_text(self, request: Request):
        self._start_pushing()
        refused = self._http_host_error(request)
        if refused:
            return refused
        await self._push_metrics()
        state, replicas = await self.hub.merged.remote()
        return PlainTextResponse(render(state, replicas), media_type="text/plain; version=0.0.4")

    @api.get("/v1/models")
    async def models(self, request: Request):
        return self._http_key_error(request) or models_list(self.config.model_name)

    @api.post("/v1/audio/transcriptions")
    async def transcriptions(self, request: Request):
        self._start_pushing()
        refused = self._http_key_error(request)
        if refused:
            return refused
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return self._refused(413, f"the request body of {declared} bytes is over the limit of {limit} bytes",
                                 "body_size", "file")
        try:
            form = await request.form(max_files=1, max_fields=16, max_part_size=limit)
        except Exception as error:  # starlette: too large a part, not multipart
            return self._refused(400, f"expected a multipart/form-data body with 'file' and 'model': {error}",
                                 "bad_request")
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return self._refused(400, "the 'file' field (an audio file) is missing", "bad_request", "file")
        data = await upload.read()
        if len(data) > limit:
            return self._refused(413, f"the file of {len(data)} bytes is over the limit of {limit} bytes",
                                 "body_size", "file")
        response_format = str(form.get("response_format") or "json")
        granularities = [str(g) for g in form.getlist("timestamp_granularities[]")]
        try:
            check_request(str(form.get("model") or ""), self.config.model_name, response_format, granularities)
            transcript = await transcribe_upload(self.session, data, upload.filename or "upload")
        except RequestError as error:
            self.metrics.reject("bad_request")
            return JSONResponse(error.body(), status_code=error.status)
        self.metrics.count("transcriptions_total")
        body = response_body(transcript, response_format, granularities)
        return PlainTextResponse(body) if isinstance(body, str) else body

    @api.websocket("/v1/stream")
    async def stream(self, ws: WebSocket) -> None:
        self._start_pushing()
        await ws.accept()
        denied, label = host_error(ws.headers.get("host"), self.config.allowed_hosts), "host"
        if not denied:
            denied, label = key_error(self.config.api_key, ws.headers.get("authorization"),
                                      ws.query_params.get("token")), "auth"
        if not denied:
            denied, label = origin_error(ws.headers.get("origin"), self.config.allowed_origins), "origin"
        try:
            if denied:
                raise StreamClosed(CLOSE_POLICY, denied, label)
            self.slots.acquire(self.limits.retry_after_s)
        except StreamClosed as closed:
            self.metrics.reject(closed.label)
            await close_stream(ws, closed)
            return
        self.metrics.gauges["streams_active"] += 1
        self.metrics.count("streams_total")
        try:
            await LiveWebSocketStream(ws, self.session, self.limits, self.metrics, self.about,
                                      llm=self.config.llm).run()
        finally:
            self.slots.release()
            self.metrics.gauges["streams_active"] -= 1


def autoscaling(replicas: int, max_replicas: int, target_streams: float) -> dict:
    """Ray Serve's autoscaling: between ``replicas`` and ``max_replicas``, aiming at ``target_streams``
    requests in flight per replica (streams count until they close); up after 5 s above, down after 60 s."""
    return {"min_replicas": replicas, "initial_replicas": replicas, "max_replicas": max_replicas,
            "target_ongoing_requests": target_streams, "upscale_delay_s": 5.0, "downscale_delay_s": 60.0,
            "look_back_period_s": 5.0}


def build_app(config: ServeConfig, replicas: int, replica_cpus: float, max_replicas: int | None = None,
              target_streams: float | None = None):
    """The bound application ``serve.run`` starts: ``replicas`` replicas, or autoscaling up to ``max_replicas``."""
    from ray.serve.config import RequestRouterConfig

    scale = {"num_replicas": replicas} if not max_replicas or max_replicas <= replicas else {
        "autoscaling_config": autoscaling(replicas, max_replicas, target_streams)}
    return ParakeetServer.options(
        **scale, max_ongoing_requests=config.limits.max_streams_per_replica + HTTP_HEADROOM,
        ray_actor_options={"num_cpus": replica_cpus},
        request_router_config=RequestRouterConfig(
            request_router_class="parakeet_trt.serve.routing.LeastLoadedRouter")).bind(config)
