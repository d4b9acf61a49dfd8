"""GET /api/agents and /api/agents/:id in ElizaOS's shapes, without leaking a character's credentials."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.conftest import new_id
from tests.gateway.http.conftest import App


async def test_list_and_record_without_credentials(app_factory: Callable[..., Awaitable[App]], tmp_path: Path) -> None:
    character = {
        "name": "Ada",
        "bio": ["Loves proofs.", "Teaches maths."],
        "system": "You are Ada.",
        "plugins": ["@elizaos/plugin-sql"],
        "apiKey": "top-level-secret",
        "clientConfig": {"telegram": {"botToken": "bot-secret"}},
        "settings": {"model": "tiny", "OPENAI_API_KEY": "sk-secret", "secrets": {"TOKEN": "t"}, "voice": "calm"},
    }
    path = tmp_path / "ada.json"
    path.write_text(json.dumps(character))
    app = await app_factory(characters=[str(path)])
    listed = (await app.client.get("/api/agents")).json()["data"]["agents"]
    assert [(a["name"], a["bio"], a["status"]) for a in listed] == [("Ada", "Loves proofs.", "active")]
    record = (await app.client.get(f"/api/agents/{listed[0]['id']}")).json()["data"]
    assert record["bio"] == ["Loves proofs.", "Teaches maths."] and record["system"] == "You are Ada."
    assert record["plugins"] == ["@elizaos/plugin-sql"]
    assert record["settings"] == {"model": "tiny", "voice": "calm"}
    shown = json.dumps(record)
    assert not any(secret in shown for secret in ("sk-secret", '"t"', "top-level-secret", "bot-secret"))
    assert (await app.client.get(f"/api/agents/{new_id()}")).status_code == 404
    assert (await app.client.get("/api/agents/not-a-uuid")).status_code == 400
