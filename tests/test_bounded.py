from bot.bounded import keep_newest


def test_past_its_limit_a_memory_drops_what_was_stored_longest_ago() -> None:
    entries: dict[str, int] = {}
    for number, key in enumerate(["a", "b", "c"]):
        keep_newest(entries, key, number, limit=2)
    assert entries == {"b": 1, "c": 2}


def test_storing_a_key_again_makes_it_the_newest_and_drops_nothing_else() -> None:
    entries = {"a": 0, "b": 1}
    keep_newest(entries, "a", 5, limit=2)
    assert list(entries.items()) == [("b", 1), ("a", 5)]
    keep_newest(entries, "c", 2, limit=2)
    assert entries == {"a": 5, "c": 2}
