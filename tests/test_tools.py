"""Tools: the schema a function's signature gives, and how a call's arguments and errors are handled."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from pydantic import Field

from botkit.errors import ConfigError
from botkit.tools import Tool


async def order_status(order_id: str, detail: Literal["short", "long"] = "short") -> dict[str, str]:
    """The status of an order.

    Args:
        order_id: the order number
        detail: how much to say
    """
    if order_id == "0":
        raise LookupError("no order 0")
    return {"order_id": order_id, "detail": detail}


async def weather(city: Annotated[str, Field(description="a city name")], days: int = 1) -> str:
    """Tomorrow's weather."""
    return f"sunny in {city} for {days} day(s)"


def test_the_schema_comes_from_the_signature_and_docstring() -> None:
    spec = Tool.from_function(order_status).spec
    assert spec.name == "order_status"
    assert spec.description == "The status of an order."
    assert spec.parameters["required"] == ["order_id"]
    assert spec.parameters["properties"]["order_id"] == {
        "description": "the order number",
        "title": "Order Id",
        "type": "string",
    }
    assert spec.parameters["properties"]["detail"]["enum"] == ["short", "long"]
    assert spec.parameters["additionalProperties"] is False


def test_annotated_descriptions_and_a_custom_name() -> None:
    spec = Tool.from_function(weather, name="forecast").spec
    assert spec.name == "forecast"
    assert spec.parameters["properties"]["city"]["description"] == "a city name"
    assert spec.parameters["properties"]["days"]["default"] == 1


async def test_a_call_returns_the_result_as_json_text() -> None:
    result = await Tool.from_function(order_status).call('{"order_id": "7"}', context=None)
    assert json.loads(result) == {"order_id": "7", "detail": "short"}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"order_id": "0"}', "LookupError: no order 0"),
        ('{"detail": "short"}', "invalid arguments: Field required"),
        ('{"order_id": "1", "colour": "red"}', "invalid arguments: Extra inputs are not permitted"),
        ("not json", "invalid arguments"),
    ],
)
async def test_errors_become_the_result_the_model_reads(arguments: str, expected: str) -> None:
    result = json.loads(await Tool.from_function(order_status).call(arguments, context=None))
    assert result["error"].startswith(expected)


def test_a_sync_function_is_refused_with_the_reason() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="must be an async function"):
        Tool.from_function(plain)  # type: ignore[arg-type]
