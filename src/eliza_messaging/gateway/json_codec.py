"""orjson behind the ``json`` module interface that python-socketio and python-engineio expect."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(data: str | bytes, **_: Any) -> Any:
    return orjson.loads(data)
