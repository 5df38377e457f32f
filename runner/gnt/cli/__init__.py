"""The gnt-* command line clients: thin front-ends that parse Ganeti's syntax, build opcodes,
submit jobs to the master daemon over its local socket and print the results."""
