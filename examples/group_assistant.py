"""A group assistant: Tencent calls it only when @-mentioned; `/summary` sums up the group's
recent messages, and anything else is answered by the model.

    botkit serve examples.group_assistant:bot
"""

from botkit import Bot, Context, body_text

bot = Bot(prompt="You are a helpful assistant in a team chat. Answer in a few sentences.")


@bot.command("/summary", help="Sum up the group's recent messages")
async def summary(ctx: Context) -> None:
    if ctx.group_id is None:
        await ctx.reply("/summary works in a group.")
        return
    history = await ctx.group_history(int(ctx.args) if ctx.args.isdigit() else 30)
    lines = [f"{m.from_account}: {body_text(m.msg_body)}" for m in history if body_text(m.msg_body)]
    if not lines:
        await ctx.reply("There is nothing to sum up yet.")
        return
    question = "Sum up this conversation in at most 3 bullet points:\n" + "\n".join(lines)
    await ctx.reply(await ctx.ask_model(question, remember=False))
