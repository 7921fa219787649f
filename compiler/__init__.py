"""compiler: graph passes, tiling and lowering of framework Graphs to the isa instruction sets."""
