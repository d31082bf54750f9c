from servinfo.cli import main

main()
