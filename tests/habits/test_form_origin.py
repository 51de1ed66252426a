"""A form's origin (channel, opener, subject) comes back with the form and is read back only for its opener."""

from __future__ import annotations

from habits.form_origin import FormOrigin, read_origin

# A Teams personal chat and a Teams user id: both far longer than Slack's ids.
TEAMS_CHAT = "a:1" + "x" * 140
TEAMS_PERSON = "29:1" + "y" * 100


def test_a_form_opened_in_a_teams_chat_reads_back_for_its_opener() -> None:
    origin = FormOrigin(channel_id=TEAMS_CHAT, user_id=TEAMS_PERSON, subject_id=7)

    assert read_origin(origin.encoded(), user_id=TEAMS_PERSON) == origin
    assert read_origin(origin.encoded(), user_id="29:someone-else") is None


def test_an_id_longer_than_any_platform_s_is_refused() -> None:
    forged = FormOrigin(channel_id="C" * 300, user_id="U1", subject_id=7)

    assert read_origin(forged.encoded(), user_id="U1") is None


def test_a_form_sent_from_another_conversation_than_it_was_opened_in_is_refused() -> None:
    origin = FormOrigin(channel_id=TEAMS_CHAT, user_id=TEAMS_PERSON, subject_id=7)

    assert read_origin(origin.encoded(), user_id=TEAMS_PERSON, channel_id=TEAMS_CHAT) == origin
    assert read_origin(origin.encoded(), user_id=TEAMS_PERSON, channel_id="19:another-channel") is None
