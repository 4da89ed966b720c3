"""Off the path of a message: tools to try a bot (evaluation suites and reports, notebook helpers,
recordings) and the process tools the notebooks, the sandbox and the tests share."""
