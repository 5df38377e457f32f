"""gnt-masterd: the master daemon process and its start/stop/status command.

``gnt-masterd start`` starts it in the background for the current GNT_ROOT,
``gnt-masterd --foreground`` runs it in this process, ``stop`` sends SIGTERM by PID file.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from gnt.core import resolver, settings
from gnt.core.errors import GntError
from gnt.daemon.control import daemon_alive, daemon_pid, start_daemon, stop_daemon
from gnt.daemon.handlers import Handlers
from gnt.daemon.rapisup import RapiSupervisor
from gnt.daemon.server import MasterServer
from gnt.daemon.state import Master
from gnt.nodes import masterip

LOG = logging.getLogger("gnt.masterd")


def run_foreground() -> int:
    """Run the daemon until SIGTERM/SIGINT."""
    paths = settings.paths()
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if daemon_alive():
        print(f"A master daemon already runs for {paths.root}", file=sys.stderr)
        return 1
    master = Master()
    me, master_name = resolver.this_node_name(), master.config.master_node()["name"]
    if me != master_name and me.split(".")[0] != master_name.split(".")[0]:
        print(f"This node ({me}) is not the master node ({master_name}): not starting the"
              " master daemon (gnt-cluster master-failover moves the master role)",
              file=sys.stderr)
        return 1
    masterip.activate_master_ip(master.config.data, LOG.warning)
    paths.master_socket.unlink(missing_ok=True)
    server = MasterServer(paths.master_socket, Handlers(master))
    os.chmod(paths.master_socket, 0o600)
    paths.master_pidfile.write_text(f"{os.getpid()}\n")
    master.start()
    rapi_port = settings.rapi_port()
    rapi = RapiSupervisor(rapi_port) if rapi_port is not None else None
    if rapi is not None:
        rapi.start()
    LOG.info("master daemon running for %s (pid %d)", paths.root, os.getpid())

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        if rapi is not None:
            rapi.stop()
        master.stop()
        server.server_close()
        masterip.deactivate_master_ip(master.config.data)
        paths.master_socket.unlink(missing_ok=True)
        try:
            if paths.master_pidfile.read_text().strip() == str(os.getpid()):
                paths.master_pidfile.unlink()
        except OSError:
            pass
        LOG.info("master daemon stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gnt-masterd", description=__doc__)
    parser.add_argument("action", nargs="?", choices=("start", "stop", "status", "restart"))
    parser.add_argument("-f", "--foreground", action="store_true",
                        help="run in this process (default when no action is given)")
    args = parser.parse_args(argv)
    if args.action is None or args.foreground:
        return run_foreground()
    if args.action in ("stop", "restart"):
        was = stop_daemon()
        if args.action == "stop":
            print("master daemon stopped" if was else "master daemon was not running")
            return 0
    if args.action in ("start", "restart"):
        try:
            start_daemon()
        except GntError as err:
            print(err, file=sys.stderr)
            return 1
        print(f"master daemon running (pid {daemon_pid()})")
        return 0
    alive = daemon_alive()
    print(f"master daemon {'running (pid %s)' % daemon_pid() if alive else 'not running'}")
    return 0 if alive else 3


if __name__ == "__main__":
    sys.exit(main())
