"""What users read: the text `verify`, `crosscheck` and `list --coverage` print."""
