"""Leaves of the coordinator: errors, settings (every path), the master-daemon protocol,
the hosts-file resolver, file helpers, units, ssconf; they import nothing else of gnt."""
