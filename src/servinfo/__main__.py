from servinfo.cli.app import main

main()
