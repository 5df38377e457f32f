"""``gnt-cluster renew-crypto``: the remote API certificate (its other renewals are listed
and refused with a clear message until they exist here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gnt.cli import common
from gnt.cli.common import add_command, stderr, stdout

# Ganeti's other renew-crypto options: accepted by the parser, refused with a message.
_NOT_YET = {
    "new_cluster_certificate": "--new-cluster-certificate",
    "new_confd_hmac_key": "--new-confd-hmac-key",
    "new_cluster_domain_secret": "--new-cluster-domain-secret",
    "cluster_domain_secret": "--cluster-domain-secret",
    "new_spice_certificate": "--new-spice-certificate",
    "spice_certificate": "--spice-certificate",
    "spice_ca_certificate": "--spice-ca-certificate",
    "new_node_certificates": "--new-node-certificates",
    "new_ssh_keys": "--new-ssh-keys",
}


def renew_crypto(args: argparse.Namespace) -> int:
    """``renew-crypto``: replace the remote API certificate (exit 1 on a bad request)."""
    from gnt.admin import crypto

    given = [flag for dest, flag in _NOT_YET.items() if getattr(args, dest)]
    if given:
        stderr(f"{', '.join(given)}: not supported by gnt.cluster yet (only"
               " --new-rapi-certificate and --rapi-certificate are)")
        return 1
    if args.new_rapi_certificate and args.rapi_certificate:
        stderr("Only one of the --new-rapi-certificate and --rapi-certificate options can"
               " be given")
        return 1
    if not (args.new_rapi_certificate or args.rapi_certificate):
        stderr("Nothing to renew: give --new-rapi-certificate or --rapi-certificate=FILE")
        return 1
    pem = crypto.read_key_and_certificate(Path(args.rapi_certificate)) \
        if args.rapi_certificate else None
    stdout('Updating certificates now. Running "gnt-cluster verify" is recommended after'
           " this operation.")
    if not args.force and not common.confirm(
            "This requires all daemons on all nodes to be restarted and may take some time."
            " Continue?", "--force (-f)"):
        return 1
    crypto.renew_rapi_certificate(pem or crypto.new_rapi_certificate(), feedback=stdout)
    return 0


def register(subs: Any) -> None:
    """Add ``renew-crypto`` to the gnt-cluster parser."""
    p = add_command(subs, "renew-crypto", renew_crypto,
                    "Renews cluster certificates, keys and secrets")
    p.add_argument("--new-rapi-certificate", action="store_true",
                   help="Generate a new self-signed RAPI certificate")
    p.add_argument("--rapi-certificate", metavar="FILE", default=None,
                   help="File with the new RAPI certificate and its private key (PEM)")
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    for dest, flag in _NOT_YET.items():
        takes_value = dest in ("cluster_domain_secret", "spice_certificate",
                               "spice_ca_certificate")
        if takes_value:
            p.add_argument(flag, dest=dest, metavar="FILE", default=None,
                           help=argparse.SUPPRESS)
        else:
            p.add_argument(flag, dest=dest, action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-ssh-key-check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--verbose", "-v", action="store_true", help=argparse.SUPPRESS)
