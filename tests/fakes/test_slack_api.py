"""The fake Slack Web API, exercised through the real slack_sdk clients the bot uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

TOKEN = "xoxb-test-token"


def _metadata(key: str) -> dict[str, Any]:
    return {"event_type": "whoelse_post", "event_payload": {"idempotency_key": key}}


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(bot_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    # No retry handlers: each test decides whether it wants slack_sdk to retry.
    return WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])


@pytest.fixture
def async_client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])


def test_base_url_looks_like_slacks(slack: FakeSlack) -> None:
    assert slack.base_url.startswith("http://127.0.0.1:")
    assert slack.base_url.endswith("/api/")


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    response = client.auth_test()
    assert response["team_id"] == "T0001"
    assert response["user_id"] == BOT_USER_ID
    assert response["bot_id"] == "BBOT"


def test_post_then_read_history_with_metadata(slack: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    first = client.chat_postMessage(channel="C1", text="first", blocks=blocks, metadata=_metadata("k1"))
    second = client.chat_postMessage(channel="C1", text="second", metadata=_metadata("k2"))
    client.chat_postMessage(channel="C2", text="elsewhere")

    assert first["channel"] == "C1"
    assert float(second["ts"]) > float(first["ts"])

    plain = client.conversations_history(channel="C1")
    assert [m["text"] for m in plain["messages"]] == ["second", "first"]
    assert all("metadata" not in m for m in plain["messages"])

    full = client.conversations_history(channel="C1", include_all_metadata=True, limit=1)
    assert full["has_more"] is True
    assert full["messages"][0]["metadata"]["event_payload"]["idempotency_key"] == "k2"

    stored = slack.messages("C1")
    assert [(m["text"], m["ts"]) for m in stored] == [("first", first["ts"]), ("second", second["ts"])]
    assert stored[0]["blocks"] == blocks
    assert stored[0]["metadata"] == _metadata("k1")
    assert len(slack.messages()) == 3
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_history_honours_oldest_and_hides_thread_replies(client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C1", text="parent")["ts"]
    client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)
    later = client.chat_postMessage(channel="C1", text="later")["ts"]

    history = client.conversations_history(channel="C1", oldest=parent)["messages"]
    assert [m["ts"] for m in history] == [later]

    replies = client.conversations_replies(channel="C1", ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["parent", "reply"]


async def test_async_client_posts_and_reads_back(slack: FakeSlack, async_client: AsyncWebClient) -> None:
    posted = await async_client.chat_postMessage(channel="C9", text="async", metadata=_metadata("a1"))
    history = await async_client.conversations_history(channel="C9", include_all_metadata=True)
    assert history["messages"][0]["ts"] == posted["ts"]
    assert history["messages"][0]["metadata"]["event_payload"]["idempotency_key"] == "a1"
    assert slack.messages("C9")[0]["text"] == "async"


def test_rate_limited_call_raises_with_retry_after_and_stores_nothing(slack: FakeSlack, client: WebClient) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="hi")
    assert info.value.response.status_code == 429
    assert info.value.response["error"] == "ratelimited"
    assert info.value.response.headers["Retry-After"] == "7"
    assert slack.messages() == []
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_retry_handler_gets_the_post_through_exactly_once(slack: FakeSlack) -> None:
    # Retry-After 0 keeps the test quick; slack_sdk still sleeps a random fraction of a second.
    slack.rate_limit_next("chat.postMessage", retry_after=0)
    client = WebClient(
        token=TOKEN,
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    client.chat_postMessage(channel="C1", text="eventually", metadata=_metadata("once"))
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert [m["text"] for m in slack.messages()] == ["eventually"]
    assert slack.duplicates_by_metadata_key() == {}


def test_channel_rate_limit_rejects_a_burst_and_recovers() -> None:
    with FakeSlack(bot_token=TOKEN, channel_rate_limit_per_second=10) as fake:
        client = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
        client.chat_postMessage(channel="C1", text="one")
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C1", text="too soon")
        assert info.value.response.status_code == 429
        assert int(info.value.response.headers["Retry-After"]) >= 1
        # Other channels have their own budget.
        client.chat_postMessage(channel="C2", text="other channel")

        time.sleep(0.11)
        client.chat_postMessage(channel="C1", text="two")
        assert [m["text"] for m in fake.messages("C1")] == ["one", "two"]


def test_bad_token_is_invalid_auth(slack: FakeSlack) -> None:
    client = WebClient(token="xoxb-wrong", base_url=slack.base_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="hi")
    assert info.value.response["error"] == "invalid_auth"
    assert slack.messages() == []
    assert [c.method for c in slack.calls] == ["chat.postMessage"]


def test_set_down_answers_503_until_back_up(slack: FakeSlack, client: WebClient) -> None:
    slack.set_down(True)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="hi")
    assert info.value.response.status_code == 503
    assert slack.messages() == []

    slack.set_down(False)
    client.chat_postMessage(channel="C1", text="hi")
    assert len(slack.messages()) == 1


def test_fail_next_with_ok_false_and_with_http_status(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", error="fatal_error")
    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as first:
        client.chat_postMessage(channel="C1", text="hi")
    assert (first.value.response.status_code, first.value.response["error"]) == (200, "fatal_error")
    with pytest.raises(SlackApiError) as second:
        client.chat_postMessage(channel="C1", text="hi")
    assert (second.value.response.status_code, second.value.response["error"]) == (500, "internal_error")
    assert slack.messages() == []
    client.chat_postMessage(channel="C1", text="hi")
    assert len(slack.messages()) == 1


def test_a_post_can_be_stored_and_still_answered_500(slack: FakeSlack, client: WebClient) -> None:
    slack.fail_after_storing_next("chat.postMessage")
    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel="C1", text="landed", metadata=_metadata("landed"))
    assert failed.value.response.status_code == 500
    history = client.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["metadata"]["event_payload"]["idempotency_key"] for m in history["messages"]] == ["landed"]
    client.chat_postMessage(channel="C1", text="next")
    assert [m["text"] for m in slack.messages("C1")] == ["landed", "next"]


def test_unknown_method_and_missing_arguments(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as unknown:
        client.api_call("chat.teleport")
    assert unknown.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as no_channel:
        client.api_call("chat.postMessage", json={"text": "hi"})
    assert no_channel.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as no_trigger:
        client.api_call("views.open", json={"view": {"type": "modal"}})
    assert no_trigger.value.response["error"] == "invalid_arguments"


async def test_delayed_post_still_lands_when_the_client_gives_up(slack: FakeSlack) -> None:
    slack.set_delay("chat.postMessage", 1.2)
    client = AsyncWebClient(token=TOKEN, base_url=slack.base_url, timeout=1, retry_handlers=[])
    with pytest.raises(asyncio.TimeoutError):
        await client.chat_postMessage(channel="C1", text="in doubt", metadata=_metadata("doubt"))
    history = await client.conversations_history(channel="C1", include_all_metadata=True)
    keys = [m["metadata"]["event_payload"]["idempotency_key"] for m in history["messages"]]
    assert keys == ["doubt"]


def test_update_ephemeral_and_permalink(slack: FakeSlack, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C1", text="draft")["ts"]
    client.chat_update(channel="C1", ts=ts, text="final")
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="C1", ts="1.000001", text="nope")
    assert missing.value.response["error"] == "message_not_found"
    assert slack.updates == [{"channel": "C1", "ts": ts, "text": "final", "blocks": None, "metadata": None}]
    assert slack.messages("C1")[0]["text"] == "final"

    ephemeral = client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert slack.ephemerals[0]["message_ts"] == ephemeral["message_ts"]
    assert slack.messages("C1")[0]["text"] == "final"  # ephemerals are not channel history

    permalink = client.chat_getPermalink(channel="C1", message_ts=ts)["permalink"]
    assert permalink.endswith(f"/archives/C1/p{ts.replace('.', '')}")


def test_directory_lookups(slack: FakeSlack, client: WebClient) -> None:
    slack.add_user("U1", tz="Europe/Berlin", is_admin=True, title="Engineer", name="ada")
    slack.add_channel("C1", name="general", members=["U1", "U2"])
    slack.add_usergroup("S1", handle="eng", name="Engineering", users=["U1", "U2"])

    user = client.users_info(user="U1")["user"]
    assert (user["tz"], user["is_admin"], user["name"]) == ("Europe/Berlin", True, "ada")
    assert user["profile"]["title"] == "Engineer"
    assert user["tz_offset"] in (3600, 7200)
    with pytest.raises(SlackApiError):
        client.users_info(user="UNOBODY")

    assert client.conversations_info(channel="C1")["channel"]["name"] == "general"
    assert client.conversations_members(channel="C1")["members"] == ["U1", "U2"]
    assert client.conversations_join(channel="C1")["channel"]["is_member"] is True

    groups = client.usergroups_list()["usergroups"]
    assert [(g["id"], g["handle"], g["name"], g["user_count"]) for g in groups] == [
        ("S1", "eng", "Engineering", 2)
    ]
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]


def test_people_are_found_by_email_whatever_its_case(slack: FakeSlack, client: WebClient) -> None:
    slack.add_user("U1", name="ada", email="Ada@Example.com")

    assert client.users_lookupByEmail(email="ada@example.COM")["user"]["id"] == "U1"
    with pytest.raises(SlackApiError) as missing:
        client.users_lookupByEmail(email="nobody@example.com")
    assert missing.value.response["error"] == "users_not_found"


def test_dm_channels_are_stable_and_recorded(slack: FakeSlack, client: WebClient) -> None:
    dm = client.conversations_open(users="U1")["channel"]["id"]
    assert dm.startswith("D")
    assert client.conversations_open(users=["U1"])["channel"]["id"] == dm
    assert dm == slack.dm_channel_id("U1")
    client.chat_postMessage(channel=dm, text="hello you")
    assert [m["channel"] for m in slack.messages()] == [dm]


def test_views_are_recorded(slack: FakeSlack, client: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Who else?"}, "blocks": []}
    opened = client.views_open(trigger_id="trig-1", view=view)["view"]
    assert opened["id"].startswith("V")
    assert slack.views_opened == [{"view_id": opened["id"], "trigger_id": "trig-1", "view": view}]

    client.views_update(view_id=opened["id"], view={**view, "blocks": [{"type": "divider"}]})
    assert slack.views_updated[0]["view_id"] == opened["id"]
    home = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    again = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert home["id"] == again["id"]


def test_duplicates_and_reset(slack: FakeSlack, client: WebClient) -> None:
    for key in ("a", "a", "b", "c", "c", "c"):
        client.chat_postMessage(channel="C1", text=key, metadata=_metadata(key))
    assert slack.duplicates_by_metadata_key() == {"a": 2, "c": 3}

    slack.fail_next("auth.test")
    slack.reset()
    assert slack.messages() == []
    assert slack.calls == []
    client.auth_test()  # the queued fault went with the reset


def test_texts_over_block_kits_limits_are_refused_as_slack_refuses_them(
    slack: FakeSlack, client: WebClient
) -> None:
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    long_button = [
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}]}
    ]
    form = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "t" * 25},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "fits"}}],
    }

    for blocks in (long_section, long_button):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C1", text="fallback", blocks=blocks)
        assert refused.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as refused:
        client.views_open(trigger_id="t1", view=form)
    assert refused.value.response["error"] == "invalid_arguments"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    assert slack.messages() == [] and slack.views_opened == []

    client.chat_postMessage(
        channel="C1", text="fallback", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}]
    )
    client.views_open(trigger_id="t1", view=form | {"title": {"type": "plain_text", "text": "t" * 24}})
    assert len(slack.messages()) == 1 and len(slack.views_opened) == 1


def test_workspace_cap_refuses_posts_beyond_the_burst_in_any_channel_and_refills_at_its_rate() -> None:
    # 60 a minute: one a second once the burst of three is spent.
    with FakeSlack(bot_token=TOKEN, workspace_posts_per_minute=60, workspace_burst=3) as fake:
        client = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
        for channel in ("C1", "C2", "C3"):
            client.chat_postMessage(channel=channel, text="within the burst")
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C4", text="a fresh channel, but the workspace is spent")
        assert info.value.response.status_code == 429
        assert info.value.response["error"] == "ratelimited"
        assert info.value.response.headers["Retry-After"] == "1"
        assert fake.rate_limited("chat.postMessage") == 1

        time.sleep(1.05)
        client.chat_postMessage(channel="C4", text="refilled")
        assert [m["channel"] for m in fake.messages()] == ["C1", "C2", "C3", "C4"]


def test_workspace_cap_is_counted_per_workspace() -> None:
    with FakeSlack(bot_token=TOKEN, workspace_posts_per_minute=20, workspace_burst=1) as fake:
        fake.add_workspace("T0002", token="xoxb-second")
        first = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
        second = WebClient(token="xoxb-second", base_url=fake.base_url, retry_handlers=[])
        first.chat_postMessage(channel="C1", text="first workspace")
        second.chat_postMessage(channel="C2", text="second workspace, its own allowance")
        with pytest.raises(SlackApiError) as info:
            first.chat_postMessage(channel="C3", text="first workspace again")
        assert info.value.response.status_code == 429
        assert [m["team"] for m in fake.messages()] == ["T0001", "T0002"]


def test_a_refused_post_spends_neither_the_channel_nor_the_workspace_allowance() -> None:
    with FakeSlack(
        bot_token=TOKEN, channel_rate_limit_per_second=1, workspace_posts_per_minute=60, workspace_burst=2
    ) as fake:
        client = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
        client.chat_postMessage(channel="C1", text="one")
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C1", text="too soon for the channel")
        # The channel's refusal left the workspace one post to spend.
        client.chat_postMessage(channel="C2", text="two")
        assert fake.rate_limited() == 1
        assert len(fake.messages()) == 2


def test_a_post_with_another_workspace_s_token_is_refused_as_if_the_channel_did_not_exist(
    slack: FakeSlack,
) -> None:
    slack.add_workspace("TALPHA", token="xoxb-alpha", channels=["CALPHA"])
    slack.add_workspace("TBRAVO", token="xoxb-bravo", channels=["CBRAVO"])
    alpha = WebClient(token="xoxb-alpha", base_url=slack.base_url, retry_handlers=[])

    with pytest.raises(SlackApiError) as info:
        alpha.chat_postMessage(channel="CBRAVO", text="wrong workspace")
    assert info.value.response["error"] == "channel_not_found"
    alpha.chat_postMessage(channel="CALPHA", text="its own channel", metadata=_metadata("a1"))

    assert slack.foreign_token_posts == [{"channel": "CBRAVO", "channel_team": "TBRAVO", "token_team": "TALPHA"}]
    assert slack.posted_keys() == [("CALPHA", "a1", "TALPHA")]
    assert [m["team"] for m in slack.messages()] == ["TALPHA"]
