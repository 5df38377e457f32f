"""gnt: the coordinator of the gnt.cluster collection (a Ganeti-compatible cluster manager)."""

__version__ = "0.1.0"
# The Ganeti release whose behaviour and RAPI/config formats this version follows.
GANETI_COMPAT_VERSION = "2.16.0"
CONFIG_VERSION = 1
# Version of the master-to-node interface (the node modules' arguments and answers), shown by
# ``gnt-cluster version`` as Ganeti's "Internode protocol"; bumped when that interface changes.
PROTOCOL_VERSION = 1
# Version of the export format (config.ini ``[export] version``), as Ganeti 3.0 writes it.
EXPORT_VERSION = 0
