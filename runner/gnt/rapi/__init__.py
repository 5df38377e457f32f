"""gnt-rapi: Ganeti's remote API v2 (route table, auth, resources, HTTPS server)."""
