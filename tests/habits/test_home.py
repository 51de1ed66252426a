"""The Home tab's content: what a person sees of their own side of the habit, built without any platform."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from habits.elephants.polls import start_poll_now, submit
from habits.home import HOME_SNOOZE, Reach, channels_to_ask_about, groups_to_ask_about, home_for
from habits.messages import Actions, Button, Facts, Message, Paragraph
from models.db import session_scope
from models.elephants import TWO_PHASE, ElephantSubmission
from models.nudges import HelpExchange, LoopIn, Nudge
from models.outbox import SENT, enqueue
from models.people import snooze
from models.roundtables import RoundTable
from models.workspaces import get_or_create_workspace

WORKSPACE = "T0001"
OTHER_WORKSPACE = "T0002"
ME = "UME"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ARCHIVE = "https://acme.slack.com/archives/"

Sessions = async_sessionmaker[AsyncSession]


async def posted_nudge(
    session: AsyncSession, *, title: str, channel: str, ago: timedelta, workspace: str = WORKSPACE
) -> Nudge:
    await get_or_create_workspace(session, workspace_id=workspace)
    nudge = Nudge(workspace_id=workspace, channel_id=channel, juncture="manual", title=title, created_by="UASKER")
    session.add(nudge)
    await session.flush()
    row = await enqueue(
        session,
        workspace_id=workspace,
        idempotency_key=f"nudge:{nudge.id}",
        channel_id=channel,
        message=Message(text=title),
        not_before=NOW - ago,
    )
    row.status, row.sent_at, row.sent_channel_id, row.sent_ts = SENT, NOW - ago, channel, f"17000{nudge.id}.000200"
    nudge.outbox_id = row.id
    await session.flush()
    return nudge


async def home(sessions: Sessions, *, reach: Reach | None = None, is_admin: bool = False) -> Message:
    async with session_scope(sessions) as session:
        return await home_for(session, workspace_id=WORKSPACE, user_id=ME, now=NOW, is_admin=is_admin, reach=reach)


def paragraph(message: Message, heading: str) -> str:
    return next(
        part.text for part in message.parts if isinstance(part, Paragraph) and part.text.startswith(heading)
    )


def facts(message: Message) -> dict[str, str]:
    return dict(next(part for part in message.parts if isinstance(part, Facts)).facts)


async def test_counts_what_i_did_and_what_came_to_me_over_30_days_and_all_time(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        recent = await posted_nudge(session, title="Acme", channel="CSALES", ago=timedelta(days=2))
        old = await posted_nudge(session, title="Globex", channel="CSALES", ago=timedelta(days=60))
        elsewhere = await posted_nudge(
            session, title="Other", channel="CX", ago=timedelta(days=1), workspace=OTHER_WORKSPACE
        )
        session.add_all(
            [
                LoopIn(
                    workspace_id=WORKSPACE,
                    nudge_id=recent.id,
                    by_user=ME,
                    looped_user="UANA",
                    created_at=NOW - timedelta(days=1),
                ),
                LoopIn(
                    workspace_id=WORKSPACE,
                    nudge_id=old.id,
                    by_user=ME,
                    looped_user="UBEN",
                    created_at=NOW - timedelta(days=59),
                ),
                # "Nobody else" is an answer, not a person looped in.
                LoopIn(
                    workspace_id=WORKSPACE,
                    nudge_id=old.id,
                    by_user=ME,
                    looped_user=None,
                    created_at=NOW - timedelta(days=59),
                ),
                LoopIn(
                    workspace_id=WORKSPACE,
                    nudge_id=recent.id,
                    by_user="UANA",
                    looped_user=ME,
                    created_at=NOW - timedelta(days=1),
                ),
                LoopIn(
                    workspace_id=OTHER_WORKSPACE,
                    nudge_id=elsewhere.id,
                    by_user=ME,
                    looped_user="UCY",
                    created_at=NOW,
                ),
                HelpExchange(
                    workspace_id=WORKSPACE,
                    nudge_id=old.id,
                    user_id=ME,
                    kind="offer",
                    category="sales",
                    text="t",
                    created_at=NOW - timedelta(days=50),
                ),
                HelpExchange(
                    workspace_id=WORKSPACE,
                    nudge_id=recent.id,
                    user_id=ME,
                    kind="request",
                    category="support",
                    text="t",
                    created_at=NOW - timedelta(days=1),
                ),
                HelpExchange(
                    workspace_id=WORKSPACE,
                    nudge_id=recent.id,
                    user_id="UANA",
                    kind="offer",
                    category="support",
                    text="t",
                    created_at=NOW - timedelta(hours=3),
                ),
                # An offer on a nudge where I asked nothing is not help offered to me.
                HelpExchange(
                    workspace_id=WORKSPACE,
                    nudge_id=old.id,
                    user_id="UBEN",
                    kind="offer",
                    category="sales",
                    text="t",
                    created_at=NOW - timedelta(days=40),
                ),
            ]
        )

    counts = facts(await home(sessions))

    assert counts == {
        "People you looped in": "1 in the last 30 days · 2 in all",
        "Times you were looped in": "1 in the last 30 days · 1 in all",
        "Help you offered": "0 in the last 30 days · 1 in all",
        "Help offered to you": "1 in the last 30 days · 1 in all",
    }


async def test_nudges_waiting_are_those_in_my_channels_or_on_which_i_was_looped_in_that_i_have_not_answered(
    sessions: Sessions,
) -> None:
    async with session_scope(sessions) as session:
        waiting = await posted_nudge(session, title="Acme renewal", channel="CSALES", ago=timedelta(hours=2))
        answered = await posted_nudge(session, title="Initech", channel="CSALES", ago=timedelta(hours=3))
        helped = await posted_nudge(session, title="Umbrella", channel="CSALES", ago=timedelta(hours=4))
        await posted_nudge(session, title="Not my channel", channel="CENG", ago=timedelta(hours=1))
        looped = await posted_nudge(session, title="Hooli", channel="CENG", ago=timedelta(hours=5))
        await posted_nudge(session, title="Too old", channel="CSALES", ago=timedelta(days=15))
        session.add_all(
            [
                LoopIn(workspace_id=WORKSPACE, nudge_id=answered.id, by_user=ME, looped_user=None),
                HelpExchange(
                    workspace_id=WORKSPACE,
                    nudge_id=helped.id,
                    user_id=ME,
                    kind="offer",
                    category="sales",
                    text="t",
                ),
                LoopIn(workspace_id=WORKSPACE, nudge_id=looped.id, by_user="UANA", looped_user=ME),
                # Someone else answering does not answer for me.
                LoopIn(workspace_id=WORKSPACE, nudge_id=waiting.id, by_user="UANA", looped_user=None),
            ]
        )

    text = paragraph(
        await home(sessions, reach=Reach(channels=frozenset({"CSALES"}), archive_url=ARCHIVE)), "*Waiting"
    )

    assert text.splitlines() == [
        "*Waiting for your answer (2):*",
        f"• <{ARCHIVE}CSALES/p17000{waiting.id}000200|Acme renewal> in #{{CSALES}}",
        f"• <{ARCHIVE}CENG/p17000{looped.id}000200|Hooli> in #{{CENG}}",
    ]


async def test_a_nudge_title_cannot_break_its_link_or_ping_anyone(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        await posted_nudge(session, title="<!channel> a|b", channel="CSALES", ago=timedelta(hours=1))

    text = paragraph(
        await home(sessions, reach=Reach(channels=frozenset({"CSALES"}), archive_url=ARCHIVE)), "*Waiting"
    )

    assert "<!channel>" not in text and "a|b" not in text
    assert "‹!channel› a¦b" in text


async def test_elephant_polls_in_my_channels_count_until_i_take_part_and_never_show_what_was_written(
    sessions: Sessions,
) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=WORKSPACE)
        _, mine = await start_poll_now(
            session,
            workspace_id=WORKSPACE,
            channel_id="CSALES",
            now=NOW - timedelta(hours=1),
            started_by="UHOST",
            mode=TWO_PHASE,
        )
        await start_poll_now(
            session,
            workspace_id=WORKSPACE,
            channel_id="CENG",
            now=NOW - timedelta(hours=1),
            started_by="UHOST",
            mode=TWO_PHASE,
        )
        await submit(
            session,
            workspace_id=WORKSPACE,
            channel_id="CSALES",
            poll_id=mine.id,
            user_id="UANA",
            text="secret worry",
            now=NOW,
        )
    reach = Reach(channels=frozenset({"CSALES"}))

    before = await home(sessions, reach=reach)
    async with session_scope(sessions) as session:
        await submit(
            session,
            workspace_id=WORKSPACE,
            channel_id="CSALES",
            poll_id=mine.id,
            user_id=ME,
            text="my worry",
            now=NOW,
        )
    after = await home(sessions, reach=reach)

    assert paragraph(before, "*Elephant") == (
        "*Elephant polls:* 1 open poll waits for you (anonymous: nobody sees what you write)."
    )
    assert paragraph(after, "*Elephant") == "*Elephant polls:* none waits for you."
    for shown in (before, after):
        assert "worry" not in shown.model_dump_json()
    async with session_scope(sessions) as session:
        # Reading the tab stored nothing next to what people wrote.
        assert len(list(await session.scalars(ElephantSubmission.__table__.select()))) == 2


async def test_the_next_round_table_i_am_invited_to_by_name_or_by_group(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=WORKSPACE)
        for channel, invitees, groups, weekday in [
            ("CSALES", [ME], [], 4),  # Fridays
            ("CENG", [], ["SENG"], 2),  # Wednesdays, sooner
            ("COPS", ["UANA"], ["SOPS"], 1),  # Tuesdays, soonest, but not mine
        ]:
            session.add(
                RoundTable(
                    workspace_id=WORKSPACE,
                    channel_id=channel,
                    cadence="weekly",
                    weekday=weekday,
                    week_of_month=None,
                    time_of_day=time(15, 0),
                    timezone="UTC",
                    anchor=date(2026, 1, 5),
                    invitees=invitees,
                    invited_groups=groups,
                    reminder_minutes=[],
                    set_up_by="UANA",
                )
            )
    async with session_scope(sessions) as session:
        assert await groups_to_ask_about(session, workspace_id=WORKSPACE) == ["SENG", "SOPS"]

    by_name = await home(sessions, reach=Reach(timezone="Europe/Berlin"))
    by_group = await home(sessions, reach=Reach(groups=frozenset({"SENG"}), timezone="Europe/Berlin"))

    assert paragraph(by_name, "*Next round") == (
        "*Next round-table:* Friday 13 March at 16:00 (Europe/Berlin) in #{CSALES}."
    )
    assert (
        paragraph(by_group, "*Next round") == "*Next round-table:* tomorrow at 16:00 (Europe/Berlin) in #{CENG}."
    )


async def test_the_snooze_button_offers_a_week_or_to_end_the_snooze(sessions: Sessions) -> None:
    def button(message: Message) -> Button:
        actions = next(part for part in message.parts if isinstance(part, Actions))
        control = actions.controls[0]
        assert isinstance(control, Button) and control.action_id == HOME_SNOOZE
        return control

    awake = await home(sessions)
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=WORKSPACE)
        await snooze(session, workspace_id=WORKSPACE, user_id=ME, until=NOW + timedelta(days=2))
    snoozed = await home(sessions)

    assert (button(awake).label, button(awake).value) == ("Snooze 1 week", "1w")
    assert (button(snoozed).label, button(snoozed).value) == ("End snooze", "off")
    assert paragraph(snoozed, "*Snooze") == "*Snooze:* on until Thursday 12 March at 12:00 (UTC)."


async def test_only_admins_see_the_workspace_settings_and_status(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        await get_or_create_workspace(session, workspace_id=WORKSPACE, default_timezone="Europe/Paris")

    person = (await home(sessions)).model_dump_json()
    admin = await home(sessions, is_admin=True)

    assert "Workspace (admins only)" not in person and "Scheduler" not in person
    settings = paragraph(admin, "*Settings")
    assert "• Time zone: Europe/Paris" in settings and "• Quiet hours: 19:00–08:00" in settings
    assert "• Hourly cap: at most 6 nudges per channel per hour" in settings
    assert paragraph(admin, "*Scheduler:*").startswith("*Scheduler:* not running")
    assert paragraph(admin, "*Delivery:*") == "*Delivery:* 0 waiting to send, 0 retrying, 0 failed for good."


async def test_only_channels_with_recent_nudges_or_open_polls_need_their_members_asked(sessions: Sessions) -> None:
    async with session_scope(sessions) as session:
        await posted_nudge(session, title="A", channel="CSALES", ago=timedelta(days=1))
        await posted_nudge(session, title="B", channel="COLD", ago=timedelta(days=20))
        await start_poll_now(session, workspace_id=WORKSPACE, channel_id="CENG", now=NOW, started_by="UHOST")
        await posted_nudge(session, title="C", channel="CX", ago=timedelta(days=1), workspace=OTHER_WORKSPACE)

    async with session_scope(sessions) as session:
        assert await channels_to_ask_about(session, workspace_id=WORKSPACE, now=NOW) == ["CENG", "CSALES"]
