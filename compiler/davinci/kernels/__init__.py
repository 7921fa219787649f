"""DaVinci kernel generators; importing this package registers their lowering rules."""
