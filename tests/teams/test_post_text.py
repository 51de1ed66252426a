"""What whoelse reads in a Teams app's post: its HTML text and its cards, as the lines and links `parse_bot_post`
reads deal and ticket moments from; and which senders count as apps."""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity import Activity

from habits.bot_posts import TEAMS_SOURCE, BotPost, Link, parse_bot_post
from handlers.teams.bot_posts import from_an_app
from handlers.teams.post_text import CONNECTOR_CARD, PostReader
from tests.teams.activities import BOT, JANE, JANE_BOT_FRAMEWORK_ID

TICKET_URL = "https://acme.zendesk.com/agent/tickets/4711"


def read(text: str | None = None, *attachments: dict[str, Any]) -> PostReader:
    reader = PostReader()
    reader.add_html(text)
    for attachment in attachments:
        reader.add_attachment(attachment)
    return reader


def sent_by(sender: dict[str, Any]) -> Activity:
    return Activity.model_validate(
        {
            "type": "message",
            "id": "1",
            "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "from": sender,
            "recipient": {"id": BOT, "name": "whoelse"},
            "conversation": {"id": "19:c@thread.tacv2"},
        }
    )


def test_html_text_is_read_as_lines_with_its_links_and_entities_undone() -> None:
    reader = read(
        f'<p>Ticket <a href="{TICKET_URL}">Checkout fails &amp; times out</a> was escalated</p>'
        "<p>Priority: <b>Urgent</b></p>"
    )

    assert reader.lines == ["Ticket Checkout fails & times out was escalated", "Priority: Urgent"]
    assert reader.links == [Link(url=TICKET_URL, label="Checkout fails & times out")]


def test_a_connector_card_from_an_incoming_webhook_is_read_with_its_facts_and_button() -> None:
    card = {
        "contentType": CONNECTOR_CARD,
        "content": {
            "summary": "Ticket escalated",
            "sections": [
                {
                    "activityTitle": "Ticket #4711 escalated",
                    "activitySubtitle": "Checkout fails for EU customers",
                    "facts": [{"name": "Priority", "value": "Urgent"}, {"name": "Customer", "value": "Acme"}],
                }
            ],
            "potentialAction": [
                {"@type": "OpenUri", "name": "Open ticket", "targets": [{"os": "default", "uri": TICKET_URL}]}
            ],
        },
    }

    reader = read(None, card)
    event = parse_bot_post(
        BotPost(channel_id="19:c@thread.tacv2", ts="17", lines=tuple(reader.lines), links=tuple(reader.links)),
        kind="ticket",
        source=TEAMS_SOURCE,
    )

    assert reader.lines[:2] == ["Ticket escalated", "Ticket #4711 escalated"]
    assert "Priority: Urgent" in reader.lines
    assert event is not None
    assert (event.event, event.url, event.account, event.priority) == ("escalated", TICKET_URL, "Acme", "Urgent")
    assert event.source == "teams_message"


def test_nested_adaptive_card_containers_and_rich_text_are_read_in_order() -> None:
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "ColumnSet",
                    "columns": [
                        {"type": "Column", "items": [{"type": "TextBlock", "text": "Deal won"}]},
                        {
                            "type": "Column",
                            "items": [
                                {
                                    "type": "RichTextBlock",
                                    "inlines": [
                                        {
                                            "type": "TextRun",
                                            "text": "Acme renewal",
                                            "selectAction": {
                                                "type": "Action.OpenUrl",
                                                "url": "https://crm.example.com/d/1",
                                            },
                                        },
                                        " closed won",
                                    ],
                                }
                            ],
                        },
                    ],
                }
            ],
        },
    }

    reader = read(None, card)

    assert reader.lines == ["Deal won", "Acme renewal closed won"]
    assert reader.links == [Link(url="https://crm.example.com/d/1", label="Acme renewal")]


def test_apps_are_told_from_people_and_from_whoelse_itself() -> None:
    assert from_an_app(sent_by({"id": "28:5a0c9e2b-7d41-4f6a-9b3e-1c2d3e4f5a6b", "name": "HubSpot"}))
    assert from_an_app(sent_by({"id": "workflows", "name": "Workflows", "role": "bot"}))
    assert not from_an_app(sent_by({"id": JANE_BOT_FRAMEWORK_ID, "name": "Jane Doe", "aadObjectId": JANE}))
    assert not from_an_app(sent_by({"id": BOT, "name": "whoelse"}))
