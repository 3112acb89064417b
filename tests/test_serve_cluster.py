"""``parakeet-trt serve`` on a real two-node Ray cluster on 127.0.0.1 (issue 16), and a replica killed
mid-stream.

Two ``ray start --block`` processes (a head and a node joining it, one CPU each) make the cluster;
``parakeet-trt serve --ray-address`` places one replica on each node (a replica reserves one CPU).
Concurrent websocket streams must land on both nodes and each one's committed text must equal
``parakeet-trt live --no-realtime`` on the same audio. Then a replica is killed (``ray.kill``) while a
stream runs on it: the client sees close code 1011 with the replica-lost reason (sent by our middleware
in Ray's proxy, serve/proxy_close.py; without it the proxy sends no close frame: 1006), keeps the finals it received (a prefix of the full committed text), opens a new stream at
once on the other replica, and Serve replaces the dead replica.

The cluster is torn down by terminating the ``ray start --block`` processes this test started, not
by ``ray stop``, which would kill every Ray process on the machine (other users' too).
Marked ``cluster``; about a minute here (deselect with ``-m 'not cluster'``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from parakeet_trt.serve.proxy_close import CALLBACK_ENV, CALLBACK_PATH, CLOSE_REPLICA_LOST, REPLICA_LOST_REASON
from parakeet_trt.testing.processes import background_process
from serve_support import free_port, reference_cases, run, serve_process, ws_url, stream_v1

pytestmark = pytest.mark.cluster

NODE_START_S = 90
RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]
# Token authentication for every process of the cluster, with this run's own token: `ray start` does
# not create one, and ~/.ray/auth_token may not exist (or belong to another cluster).
# The proxy callback (1011 for a lost replica) is set where the proxy runs: on the `ray start` nodes.
CLUSTER_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), CALLBACK_ENV: CALLBACK_PATH}


def ray_node(log: Path, *args: str):
    """One Ray node: ``ray start --block ARGS`` until the context ends (then SIGTERM: its processes stop)."""
    command = [*RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1", *args]
    return background_process(command, log, "block forever", start_s=NODE_START_S, env=CLUSTER_ENV)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    address = f"127.0.0.1:{free_port()}"
    began = time.monotonic()
    with ray_node(tmp / "head.log", "--head", "--port", address.split(":")[1], "--include-dashboard=false"), \
            ray_node(tmp / "node.log", "--address", address), \
            serve_process(tmp, "--ray-address", address, "--replicas", "2", "--max-streams-per-replica", "8",
                          env=CLUSTER_ENV) as url:
        saved = {name: os.environ.get(name) for name in CLUSTER_ENV}
        os.environ.update(CLUSTER_ENV)  # before Ray reads it
        import ray

        ray.init(address=address, log_to_driver=False)
        try:
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2
            print(f"\ncluster and server up in {time.monotonic() - began:.1f} s")
            yield url
        finally:
            ray.shutdown()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def test_streams_run_on_both_nodes_and_equal_parakeet_trt_live(cluster, tmp_path):
    cases = reference_cases(tmp_path)

    async def staggered():
        tasks = []
        for audio, rate, _ in cases.values():
            tasks.append(asyncio.create_task(stream_v1(ws_url(cluster), audio, sample_rate=rate, realtime=True,
                                                          fmt="f32le" if rate != 16000 else "s16le", timeout_s=90)))
            await asyncio.sleep(0.3)
        return await asyncio.gather(*tasks)

    results = run(staggered())
    nodes = [r.started["node_id"] for r in results]
    print("streams on nodes", [n[:8] for n in nodes], "replicas", [r.started["replica"] for r in results])
    assert len(set(nodes)) == 2
    for (_, rate, expected), result in zip(cases.values(), results):
        assert result.close_code == 1000 and result.committed_text == expected, rate


def test_a_replica_killed_mid_stream(cluster, tmp_path):
    import ray
    from ray import serve

    cases = reference_cases(tmp_path)
    audio = np.concatenate([cases[1][0], cases[2][0]])
    from serve_support import live_committed_text

    expected = live_committed_text(audio, 16000, tmp_path, "long")
    killed: dict = {}

    def kill_on_first_final(event, result):
        if event["type"] == "final" and not killed:
            killed["at"] = time.monotonic()
            ray.kill(ray.get_actor(result.started["actor_name"], namespace="serve"), no_restart=False)

    lost = run(stream_v1(ws_url(cluster), audio, realtime=True, on_event=kill_on_first_final, timeout_s=90))
    assert killed, "no final arrived before the end of the stream"
    print(f"replica {lost.started['replica']} on node {lost.started['node_id'][:8]} killed; the client saw "
          f"{lost.close_code} {time.monotonic() - killed['at']:.2f} s later, keeping {lost.committed_text!r}")
    assert lost.close_code == CLOSE_REPLICA_LOST and lost.close_reason == REPLICA_LOST_REASON
    assert lost.committed_text and expected.startswith(lost.committed_text)
    began = time.monotonic()
    again = run(stream_v1(ws_url(cluster), cases[0][0], timeout_s=60))
    assert again.close_code == 1000 and again.committed_text == cases[0][2]
    assert again.started["replica"] != lost.started["replica"] and time.monotonic() - began < 10
    deadline = time.monotonic() + 90  # Serve replaces the dead replica
    while True:
        states = serve.status().applications["parakeet_trt"].deployments["ParakeetServer"].replica_states
        if states.get("RUNNING", 0) == 2:
            break
        assert time.monotonic() < deadline, f"the replica was not replaced: {states}"
        time.sleep(1)
