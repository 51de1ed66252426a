"""Ids and form contexts that come back from outside are read strictly: anything odd is None, never a crash."""

from __future__ import annotations

import pytest

from habits.form_origin import FormOrigin, read_origin
from habits.ids import LARGEST_ID, parse_id


@pytest.mark.parametrize(("value", "read"), [("1", 1), ("42", 42), (str(LARGEST_ID), LARGEST_ID)])
def test_positive_ascii_ids_within_a_bigint_are_read(value: str, read: int) -> None:
    assert parse_id(value) == read


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0",
        "-1",
        "+7",
        "007",
        " 7",
        "7\n",
        "1.0",
        "1e3",
        "²",
        "٣",
        "७",
        "0x1F",
        str(LARGEST_ID + 1),
        "9" * 400,
        7,
        None,
    ],
)
def test_anything_else_is_no_id(value: object) -> None:
    assert parse_id(value) is None


def test_a_form_is_read_back_only_for_the_person_who_opened_it() -> None:
    origin = FormOrigin(channel_id="CSALES", user_id="UANA", subject_id=42)

    assert read_origin(origin.encoded(), user_id="UANA") == origin
    assert read_origin(origin.encoded(), user_id="UBO") is None
    about_the_channel = FormOrigin(channel_id="CSALES", user_id="UANA")
    assert read_origin(about_the_channel.encoded(), user_id="UANA") == about_the_channel


@pytest.mark.parametrize(
    "context",
    [
        "",
        "42",
        "null",
        "[]",
        "{",
        *(
            f'{{"channel": "CSALES", "user": "UANA", "id": {odd}}}'
            for odd in ("0", "-1", "1.5", "true", '"7"', '"²"', str(2**63), str(2**64), "9" * 400)
        ),
        '{"channel": ["CSALES"], "user": "UANA", "id": 1}',
        '{"channel": "", "user": "UANA", "id": 1}',
        '{"channel": "C' + "X" * 300 + '", "user": "UANA", "id": 1}',
        '{"channel": "CSALES", "user": {"id": "UANA"}, "id": 1}',
        '{"channel": "CSALES", "id": 1}',
        None,
    ],
)
def test_an_odd_form_context_is_no_origin(context: object) -> None:
    assert read_origin(context, user_id="UANA") is None
