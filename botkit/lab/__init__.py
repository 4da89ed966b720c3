"""Off the path of a message: tools to try a bot (evaluation suites and reports, notebooks, recordings)."""
