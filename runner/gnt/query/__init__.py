"""Query fields per object kind and the query engine behind gnt-* list and info."""
