"""`botkit.__all__` is exactly the public names the package exports."""

import botkit


def test_all_lists_every_public_name() -> None:
    public = {name for name in vars(botkit) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(botkit, name)).__name__ == "module"}

    assert set(botkit.__all__) == public - modules


def test_all_is_sorted_and_unique() -> None:
    assert list(botkit.__all__) == sorted(set(botkit.__all__))
