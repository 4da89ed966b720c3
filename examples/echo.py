"""The smallest bot: repeats what it is told, and knows one command."""

from botkit import Bot, Context

bot = Bot()


@bot.command("/ping", help="Check that I am here")
async def ping(ctx: Context) -> None:
    await ctx.reply("pong")


@bot.message
async def echo(ctx: Context) -> None:
    await ctx.reply(ctx.text or "I read text only.")
