"""``parakeet-trt serve``: start the server on a local Ray instance or an existing cluster, print its URL,
serve until Ctrl-C or SIGTERM, then remove the application."""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import socket
import sys
import threading
from dataclasses import fields

from parakeet_trt.serve.auth import default_allowed_hosts
from parakeet_trt.serve.proxy_close import CALLBACK_ENV, CALLBACK_PATH
from parakeet_trt.serve.config import API_KEY_ENV, ServeBatching, ServeConfig, ServeLimits

APP_NAME = "parakeet_trt"
# Passed on to the workers of an existing cluster (--ray-address), so they load the same package and models.
FORWARDED_ENV = ("PYTHONPATH", "PARAKEET_TRT_LIBRARY", "PARAKEET_TRT_CACHE", "PTRT_ONNXRUNTIME_LIBRARY", CALLBACK_ENV)

DESCRIPTION = """\
Serve live captions and transcription over HTTP and websockets, on Ray Serve (needs the 'serve' extra:
scripts/setup.sh --serve). Each replica holds one model and many live streams.

  POST /v1/audio/transcriptions   OpenAI-compatible (the openai SDK works unchanged; base_url .../v1)
  GET  /v1/models                 the served model
  GET  /v1/stream                 websocket: a JSON start message, binary PCM frames, {"type": "end"};
                                  patch-protocol events back (docs/PATCH_PROTOCOL.md)
  GET  /healthz, GET /metrics     health (replica and node id) and Prometheus metrics (no API key)

Websocket close codes: 1000 done, 1003 unsupported message, 1007 bad frame or start message, 1008 bad key,
foreign origin or Host, idle or too long, 1009 frame too big, 1011 engine failure or replica lost
(reconnect), 1013 replica full (retry). HTTP: 400 for a Host outside --allowed-hosts, 401 bad key.
"""

EXAMPLES = """\
examples:
  parakeet-trt serve                                       the demo model at http://127.0.0.1:8000
  PARAKEET_TRT_API_KEY=secret parakeet-trt serve --replicas 2 --max-streams-per-replica 32
  ray start --head --port 6379 && parakeet-trt serve --ray-address 127.0.0.1:6379 --replicas 4
"""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.epilog = EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--model", default="demo",
                   help="exported model folder, or a packaged model name; clients pass its name as 'model' "
                        "(default: demo, the packaged demo model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; 0.0.0.0 for every interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default 8000)")
    p.add_argument("--replicas", type=int, default=1,
                   help="replicas (each one model and up to --max-streams-per-replica streams), placed by Ray on "
                        "the cluster's nodes (default 1)")
    p.add_argument("--autoscale-max-replicas", type=int, default=None, metavar="N",
                   help="let Ray Serve add replicas under load, up to N (--replicas is the minimum): it aims at "
                        "--autoscale-target-streams streams per replica, adds a replica after 5 s above it and "
                        "removes one after 60 s below; a stream stays on its replica for its life "
                        "(default: a fixed --replicas)")
    p.add_argument("--autoscale-target-streams", type=float, default=None, metavar="T",
                   help="with --autoscale-max-replicas: streams (requests in flight) per replica to aim at "
                        "(default: half of --max-streams-per-replica)")
    p.add_argument("--replica-cpus", type=float, default=1.0,
                   help="CPUs Ray reserves per replica; with 1, each node of N CPUs holds at most N replicas "
                        "(default 1)")
    p.add_argument("--api-key", default=os.environ.get(API_KEY_ENV),
                   help=f"require 'Authorization: Bearer KEY' (or ?token=KEY on the websocket) on /v1/* "
                        f"(default: ${API_KEY_ENV}, else none)")
    p.add_argument("--allowed-origins", default="", metavar="URL[,URL...]",
                   help="browser origins whose pages may open websockets, comma-separated, e.g. "
                        "https://example.org; '*' allows any; clients that send no Origin are not affected "
                        "(default: none)")
    p.add_argument("--allowed-hosts", default=None, metavar="NAME[,NAME...]",
                   help="Host header names every route answers (others get HTTP 400, websockets close 1008), "
                        "against DNS rebinding and requests meant for another site; '*' allows any (default: "
                        "127.0.0.1, localhost, ::1, plus, when --host is not loopback, the bound address and "
                        "this machine's host names)")
    p.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                   help="join this Ray cluster (ray start --head ...) instead of starting a local one "
                        "(default: a local Ray instance with the CPUs the replicas need)")
    _add_dataclass_flags(p, "limits", ServeLimits)
    _add_dataclass_flags(p, "batching", ServeBatching)
    from parakeet_trt.llm.options import add_llm_arguments  # the same --llm-* options as live/serve

    add_llm_arguments(p)


def _add_dataclass_flags(p: argparse.ArgumentParser, title: str, options) -> None:
    """One flag per field of a frozen options dataclass, its default and help text from the class."""
    defaults = options()
    g = p.add_argument_group(title)
    for f in fields(options):
        default = getattr(defaults, f.name)
        kind = str if isinstance(default, str) else int if isinstance(default, int) else float
        shown = default if isinstance(default, str) else format(default, "g")
        g.add_argument(_flag(f.name), type=kind, default=default, help=f"{options.HELP[f.name]} (default {shown})")


def config_from_args(args: argparse.Namespace) -> ServeConfig:
    if args.replicas < 1:
        raise ValueError(f"--replicas must be at least 1, got {args.replicas}")
    if args.autoscale_max_replicas is not None and args.autoscale_max_replicas < args.replicas:
        raise ValueError(f"--autoscale-max-replicas ({args.autoscale_max_replicas}) must be at least --replicas "
                         f"({args.replicas})")
    if args.autoscale_target_streams is not None and args.autoscale_target_streams <= 0:
        raise ValueError(f"--autoscale-target-streams must be positive, got {args.autoscale_target_streams}")
    if args.replica_cpus <= 0:
        raise ValueError(f"--replica-cpus must be positive, got {args.replica_cpus}")
    limits = ServeLimits(**{f.name: getattr(args, f.name) for f in fields(ServeLimits)})
    origins = tuple(o.strip() for o in args.allowed_origins.split(",") if o.strip())
    hosts = (tuple(h.strip().lower().strip("[]") for h in args.allowed_hosts.split(",") if h.strip())
             if args.allowed_hosts is not None else default_allowed_hosts(args.host))
    if not hosts:
        raise ValueError("--allowed-hosts needs at least one name ('*' allows any)")
    batching = ServeBatching(**{f.name: getattr(args, f.name) for f in fields(ServeBatching)})
    batching.options()  # out-of-range values are refused here, before Ray starts
    from parakeet_trt.llm.options import options_from_args

    return ServeConfig(model=args.model, api_key=args.api_key or None, allowed_origins=origins, limits=limits,
                       batching=batching, allowed_hosts=hosts, llm=options_from_args(args))


# Ray's own processes bind ports the OS picks from its ephemeral range, and its workers take
# 10002-19999: a port picked by binding to 0 can be taken by Ray before its HTTP proxy binds it
# (seen in CI as "Failed to bind to address"). Free ports are picked from a range neither uses.
FREE_PORT_RANGE = (20000, 32768)


def free_port(host: str = "127.0.0.1") -> int:
    """A port in FREE_PORT_RANGE that ``host`` can bind now."""
    generator = random.Random()
    for _ in range(500):
        port = generator.randrange(*FREE_PORT_RANGE)
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {host} in {FREE_PORT_RANGE[0]}-{FREE_PORT_RANGE[1] - 1}")


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"


def start_serving(config: ServeConfig, *, host: str, port: int, replicas: int, replica_cpus: float,
                  ray_address: str | None, max_replicas: int | None = None, target_streams: float | None = None):
    """Starts Ray (or joins ``ray_address``) and the application; returns once every replica is up."""
    import ray
    from ray import serve

    from parakeet_trt.serve.app import build_app

    # Ray's HTTP proxy closes a lost replica's websockets with 1011 (proxy_close.py). A local Ray inherits
    # this; a cluster joined with --ray-address needs it in the environment of its `ray start` processes.
    os.environ.setdefault(CALLBACK_ENV, CALLBACK_PATH)
    if ray_address:
        env = {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
        ray.init(address=ray_address, runtime_env={"env_vars": env} if env else None, log_to_driver=False)
    else:
        # address="local": a new instance, never one found through RAY_ADDRESS or /tmp/ray (another user's).
        most = max(replicas, max_replicas or 0)
        ray.init(address="local", num_cpus=max(1, math.ceil(most * replica_cpus)), include_dashboard=False,
                 log_to_driver=False)
    serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port})
    target = target_streams or config.limits.max_streams_per_replica / 2
    serve.run(build_app(config, replicas, replica_cpus, max_replicas, target), name=APP_NAME, route_prefix="/")


def stop_serving(ray_address: str | None) -> None:
    import ray
    from ray import serve

    from parakeet_trt.serve.app import HUB_NAMESPACE
    from parakeet_trt.serve.metrics import HUB_NAME

    try:
        serve.delete(APP_NAME)
        if not serve.status().applications:  # Serve's proxy keeps routers per deployment: start afresh next time
            serve.shutdown()
        ray.kill(ray.get_actor(HUB_NAME, namespace=HUB_NAMESPACE))
    except Exception:  # already gone
        pass
    ray.shutdown()


def run_serve_command(args: argparse.Namespace) -> int:
    from parakeet_trt.extras import require

    for module in ("ray", "fastapi", "multipart"):
        require(module, "parakeet-trt serve")
    config = config_from_args(args)
    port = args.port or free_port(args.host)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        start_serving(config, host=args.host, port=port, replicas=args.replicas, replica_cpus=args.replica_cpus,
                      ray_address=args.ray_address, max_replicas=args.autoscale_max_replicas,
                      target_streams=args.autoscale_target_streams)
        url = url_of(args.host, port)
        scaling = f" (autoscaling up to {args.autoscale_max_replicas})" if args.autoscale_max_replicas else ""
        print(f"[serve] model {config.model_name}, {args.replicas} replica(s){scaling}, up to "
              f"{config.limits.max_streams_per_replica} streams each", file=sys.stderr, flush=True)
        print(f"serving at {url} (OpenAI base_url {url}/v1, websocket {url.replace('http', 'ws', 1)}/v1/stream); "
              f"Ctrl-C stops", flush=True)
        stop.wait()
    finally:
        stop_serving(args.ray_address)
    return 0
