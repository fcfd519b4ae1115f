from aisys.cli import main

main()
