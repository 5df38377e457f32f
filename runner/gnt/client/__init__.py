"""The master-daemon client and the one job waiter, used by the gnt-* commands, admin operations and benches."""
