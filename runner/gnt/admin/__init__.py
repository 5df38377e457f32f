"""Daemon-less operations a command runs on a node: cluster init/destroy, master-failover."""
