"""`python -m node` runs noded (what cluster-sim starts, so the node runs in the same interpreter)."""

from node.entry import main

main()
