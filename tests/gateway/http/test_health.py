"""/readyz turns 503 once the server is stopping (its gate closed), while /healthz stays 200: the node
is healthy, it just takes no new clients."""

from __future__ import annotations

from tests.gateway.http.conftest import App


async def test_readyz_says_stopping_once_the_gate_closes(app: App) -> None:
    ready = await app.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["accepting"] is True  # the control: open before
    app.messaging.gate.close()
    stopping = await app.client.get("/readyz")
    assert stopping.status_code == 503
    assert stopping.json()["status"] == "STOPPING" and stopping.json()["accepting"] is False
    assert (await app.client.get("/healthz")).status_code == 200
