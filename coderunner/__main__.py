from coderunner.cli import main

main()
