"""A customer-support bot: answers from an order table through a tool, hands over on `/human`,
and refuses abuse before the model sees it.

    botkit serve examples.support:bot
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from botkit import Bot, Context, Next

ORDERS = Path(__file__).with_name("orders.sqlite3")
BLOCKED_WORDS = ("idiot", "stupid")

bot = Bot(
    prompt=(
        "You are the support desk of Acme Shop. Answer briefly and politely. For anything about "
        "an order, call order_status with its number; never guess a status."
    )
)


def open_orders() -> sqlite3.Connection:
    """The order table (`SUPPORT_ORDERS_DB`, or beside this file), with three sample orders."""
    db = sqlite3.connect(os.environ.get("SUPPORT_ORDERS_DB", ORDERS))
    db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, status TEXT, eta TEXT)")
    db.executemany(
        "INSERT OR IGNORE INTO orders VALUES (?, ?, ?)",
        [("1001", "shipped", "tomorrow"), ("1002", "packing", "in 3 days"), ("1003", "delivered", "")],
    )
    db.commit()
    return db


@bot.tool
async def order_status(order_id: str) -> dict[str, str]:
    """The status and expected delivery of an order.

    Args:
        order_id: the order number, digits only, e.g. 1001
    """
    with closing(open_orders()) as db:
        row = db.execute("SELECT status, eta FROM orders WHERE id = ?", (order_id.strip("# "),)).fetchone()
    if row is None:
        raise LookupError(f"no order {order_id}")
    return {"order_id": order_id, "status": row[0], "eta": row[1]}


@bot.command("/human", help="Talk to a person")
async def human(ctx: Context) -> None:
    await ctx.reply("I have asked a colleague to take over; they will write to you here shortly.")


@bot.middleware
async def polite_only(ctx: Context, call_next: Next) -> None:
    if any(word in ctx.text.lower() for word in BLOCKED_WORDS):
        await ctx.reply("Let's keep it friendly, please. How can I help with your order?")
        return
    await call_next()
