"""isa: the instruction sets that are the only contract between the compiler and the hardware."""
