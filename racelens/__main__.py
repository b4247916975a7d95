from racelens.cli.main import main

main()
