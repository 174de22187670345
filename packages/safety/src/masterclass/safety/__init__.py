"""# safety

Module being written."""
