"""Example bots: `botkit serve examples.support:bot`, `botkit sandbox --bot examples.echo:bot`."""
