from aecodec.cli import main

main()
