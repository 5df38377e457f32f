"""The master daemon (gnt-masterd): queue, locks, config and the local socket API."""
