"""The session timeout rules of ElizaOS: clamping, expiry, renewal and its limit, transports."""

from __future__ import annotations

import pytest

from eliza_messaging.messaging.errors import SessionValidationError
from eliza_messaging.messaging.sessions import TimeoutPolicy, expires_at, merge_policy, parse_transport, renewed
from eliza_messaging.records import ChatSession

MINUTE = 60_000


def session(policy: TimeoutPolicy, *, created: int = 0, last: int = 0, renewals: int = 0) -> ChatSession:
    return ChatSession(
        id="s",
        agent_id="a",
        user_id="u",
        channel_id="c",
        timeout_minutes=policy.timeout_minutes,
        auto_renew=policy.auto_renew,
        max_duration_minutes=policy.max_duration_minutes,
        warning_threshold_minutes=policy.warning_threshold_minutes,
        created_at=created,
        last_activity=last,
        expires_at=expires_at(created, last, policy, last),
        renewal_count=renewals,
    )


def test_merge_clamps_and_keeps_what_is_not_named() -> None:
    base = TimeoutPolicy()
    assert merge_policy(None, base) == base
    assert merge_policy({"timeoutMinutes": 2}, base).timeout_minutes == 5
    assert merge_policy({"timeoutMinutes": 10_000}, base).timeout_minutes == 1440
    assert merge_policy({"timeoutMinutes": 100, "maxDurationMinutes": 50}, base).max_duration_minutes == 100
    assert merge_policy({"maxDurationMinutes": 99_999}, base).max_duration_minutes == 2880
    assert merge_policy({"warningThresholdMinutes": 0.5}, base).warning_threshold_minutes == 1
    assert merge_policy({"autoRenew": False}, TimeoutPolicy(timeout_minutes=60)) == TimeoutPolicy(60, False)


@pytest.mark.parametrize(
    "config", [[1], {"timeoutMinutes": "soon"}, {"timeoutMinutes": float("nan")}, {"autoRenew": "yes"}]
)
def test_merge_refuses_what_is_not_a_policy(config: object) -> None:
    with pytest.raises(SessionValidationError, match="Invalid timeout configuration"):
        merge_policy(config, TimeoutPolicy())


def test_expiry_counts_from_last_activity_or_creation_and_is_capped() -> None:
    renewing = TimeoutPolicy(timeout_minutes=10, max_duration_minutes=60)
    assert expires_at(0, 20 * MINUTE, renewing, 20 * MINUTE) == 30 * MINUTE
    fixed = TimeoutPolicy(timeout_minutes=10, auto_renew=False, max_duration_minutes=60)
    assert expires_at(0, 20 * MINUTE, fixed, 20 * MINUTE) == 10 * MINUTE
    assert expires_at(0, 55 * MINUTE, renewing, 55 * MINUTE) == 60 * MINUTE


def test_renewal_needs_auto_renew_unless_forced_and_stops_at_the_maximum() -> None:
    fixed = session(TimeoutPolicy(timeout_minutes=10, auto_renew=False, max_duration_minutes=60))
    assert renewed(fixed, 5 * MINUTE) is None
    forced = renewed(fixed, 5 * MINUTE, force=True)
    assert forced is not None and forced.expires_at == 15 * MINUTE and forced.renewal_count == 1
    assert forced.auto_renew is False
    assert renewed(fixed, 60 * MINUTE, force=True) is None
    renewing = session(TimeoutPolicy(timeout_minutes=10, max_duration_minutes=60))
    later = renewed(renewing, 7 * MINUTE)
    assert later is not None and later.last_activity == 7 * MINUTE and later.expires_at == 17 * MINUTE


def test_transports_and_their_older_names() -> None:
    assert parse_transport(None) == "websocket"
    assert [parse_transport(t) for t in ("http", "sync", "sse", "stream")] == ["http", "http", "sse", "sse"]
    with pytest.raises(SessionValidationError, match="transport must be"):
        parse_transport("carrier-pigeon")
