from volo_cli.main import main

main()
