from topo.cli import main

main()
