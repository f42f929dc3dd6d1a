from tutor.cli.lesson import main

main()
