from botkit.cli import main

main()
