"""``parakeet-trt serve --autoscale-max-replicas``: Ray Serve adds a replica under load, new streams go to
it, and the streams already running stay where they are, unaffected (issue 16 item 3).

One server, one replica to start, at most two, aiming at one stream per replica; three real-time
streams make Serve scale up (after its 5 s delay); short probe streams opened meanwhile must reach the
new replica within SCALE_UP_S. Bounded: the server starts within serve_support.SERVER_START_S, each
stream has its own timeout.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from serve_support import live_committed_text, run, serve_process, speech, ws_url, stream_v1

SCALE_UP_S = 60


def test_a_loaded_server_adds_a_replica_and_new_streams_use_it(tmp_path):
    holders = np.concatenate([speech(0), speech(1), speech(2)])  # about 25 s, sent in real time
    expected = live_committed_text(holders, 16000, tmp_path, "holders")
    with serve_process(tmp_path, "--replicas", "1", "--autoscale-max-replicas", "2", "--autoscale-target-streams", "1",
                       "--replica-cpus", "0.5") as url:
        async def scenario():
            running = [asyncio.create_task(stream_v1(ws_url(url), holders, realtime=True, timeout_s=120))
                       for _ in range(3)]
            first = await stream_v1(ws_url(url), speech(3)[:16000], timeout_s=30)
            replicas, began = {first.started["replica"]}, time.monotonic()
            while len(replicas) < 2 and time.monotonic() - began < SCALE_UP_S:
                await asyncio.sleep(2)
                probe = await stream_v1(ws_url(url), speech(3)[:16000], timeout_s=30)
                assert probe.close_code == 1000
                replicas.add(probe.started["replica"])
            return replicas, time.monotonic() - began, await asyncio.gather(*running)

        replicas, waited, results = run(scenario(), timeout=240)
    print(f"replicas {sorted(replicas)}; the second took {waited:.1f} s")
    assert len(replicas) == 2, f"no second replica within {SCALE_UP_S} s"
    assert len({r.started["replica"] for r in results}) == 1  # the running streams stayed on their replica
    for result in results:
        assert result.close_code == 1000 and result.committed_text == expected
