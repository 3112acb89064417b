"""The proxy middleware that closes a lost replica's websockets with 1011 (serve/proxy_close.py), driven
with ASGI messages as Ray's proxy app would produce them. The real kill is in test_serve_cluster.py."""

import asyncio

import pytest

from parakeet_trt.serve.proxy_close import CLOSE_REPLICA_LOST, REPLICA_LOST_REASON, ReplicaLossClose, proxy_middlewares


def drive(app, client_messages=({"type": "websocket.connect"},)):
    sent, queue = [], list(client_messages)

    async def receive():
        return queue.pop(0) if queue else await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(ReplicaLossClose(app)({"type": "websocket"}, receive, send), 10))
    return sent


@pytest.mark.parametrize("how", ["raises", "returns"])
def test_a_replica_lost_after_accept_closes_1011_with_a_reason(how):
    async def lost(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "{}"})
        if how == "raises":
            raise RuntimeError("ActorDiedError: the replica died")  # what Ray's proxy meets

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "websocket.connect"}

    call = ReplicaLossClose(lost)({"type": "websocket"}, receive, send)
    if how == "raises":
        with pytest.raises(RuntimeError):  # the proxy's own error handling still sees it
            asyncio.run(call)
    else:
        asyncio.run(call)
    assert sent[-1] == {"type": "websocket.close", "code": CLOSE_REPLICA_LOST, "reason": REPLICA_LOST_REASON}
    assert len(REPLICA_LOST_REASON.encode()) <= 123  # a websocket close reason's limit


def test_normal_closes_and_gone_clients_are_left_alone():
    async def closes(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000, "reason": ""})

    assert drive(closes)[-1]["code"] == 1000 and len(drive(closes)) == 2

    async def client_left(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # the client's disconnect

    assert drive(client_left, [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1001}]) == [
        {"type": "websocket.accept"}]

    async def refused(scope, receive, send):
        await receive()  # never accepted: the proxy answers the handshake itself

    assert drive(refused) == []


def test_ray_loads_it_through_its_proxy_callback():
    from ray.serve._private.http_util import validate_http_proxy_callback_return
    from ray.serve._private.utils import call_function_from_import_path

    from parakeet_trt.serve.proxy_close import CALLBACK_PATH

    middlewares = validate_http_proxy_callback_return(call_function_from_import_path(CALLBACK_PATH))
    assert [m.cls for m in middlewares] == [ReplicaLossClose] and proxy_middlewares()
