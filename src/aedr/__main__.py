from aedr.cli import main

main()
