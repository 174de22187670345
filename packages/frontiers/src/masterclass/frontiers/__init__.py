"""# frontiers

Module being written."""
