"""``gnt-cluster renew-crypto``: the remote API certificate and the cluster domain secret (its
other renewals are listed and refused with a clear message until they exist here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gnt.cli import common
from gnt.cli.common import add_command, stderr, stdout
from gnt.core import domainsecret
from gnt.core.errors import OpPrereqError

# Ganeti's other renew-crypto options: accepted by the parser, refused with a message.
_NOT_YET = {
    "new_cluster_certificate": "--new-cluster-certificate",
    "new_confd_hmac_key": "--new-confd-hmac-key",
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
               " --new-rapi-certificate, --rapi-certificate, --new-cluster-domain-secret and"
               " --cluster-domain-secret are)")
        return 1
    for new, given_file, what in (
            ("new_rapi_certificate", "rapi_certificate", "rapi-certificate"),
            ("new_cluster_domain_secret", "cluster_domain_secret", "cluster-domain-secret")):
        if getattr(args, new) and getattr(args, given_file):
            stderr(f"Only one of the --new-{what} and --{what} options can be specified at"
                   " the same time.")
            return 1
    rapi = args.new_rapi_certificate or args.rapi_certificate
    domain = args.new_cluster_domain_secret or args.cluster_domain_secret
    if not (rapi or domain):
        stderr("Nothing to renew: give --new-rapi-certificate, --rapi-certificate=FILE,"
               " --new-cluster-domain-secret or --cluster-domain-secret=FILE")
        return 1
    # Files are read (and checked) before anything changes.
    pem = crypto.read_key_and_certificate(Path(args.rapi_certificate)) \
        if args.rapi_certificate else None
    secret = None
    if args.cluster_domain_secret:
        try:
            secret = domainsecret.read(Path(args.cluster_domain_secret))
        except OpPrereqError as err:
            stderr(f"Can't load new cluster domain secret from {args.cluster_domain_secret}:"
                   f" {err.message}")
            return 1
    stdout('Updating certificates now. Running "gnt-cluster verify" is recommended after'
           " this operation.")
    if not args.force and not common.confirm(
            "This requires all daemons on all nodes to be restarted and may take some time."
            " Continue?", "--force (-f)"):
        return 1
    if rapi:
        crypto.renew_rapi_certificate(pem or crypto.new_rapi_certificate(), feedback=stdout)
    if domain:
        crypto.renew_domain_secret(secret, feedback=stdout)
    return 0


def register(subs: Any) -> None:
    """Add ``renew-crypto`` to the gnt-cluster parser."""
    p = add_command(subs, "renew-crypto", renew_crypto,
                    "Renews cluster certificates, keys and secrets")
    p.add_argument("--new-rapi-certificate", action="store_true",
                   help="Generate a new self-signed RAPI certificate")
    p.add_argument("--rapi-certificate", metavar="FILE", default=None,
                   help="File with the new RAPI certificate and its private key (PEM)")
    p.add_argument("--new-cluster-domain-secret", action="store_true",
                   help="Create a new cluster domain secret (the secret clusters share to move"
                        " instances between them)")
    p.add_argument("--cluster-domain-secret", metavar="FILE", default=None,
                   help="Load the new cluster domain secret from a file (its first line), e.g."
                        " another cluster's, so that instances can move between them")
    p.add_argument("-f", "--force", action="store_true", help="Do not ask for confirmation")
    for dest, flag in _NOT_YET.items():
        takes_value = dest in ("spice_certificate", "spice_ca_certificate")
        if takes_value:
            p.add_argument(flag, dest=dest, metavar="FILE", default=None,
                           help=argparse.SUPPRESS)
        else:
            p.add_argument(flag, dest=dest, action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-ssh-key-check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--verbose", "-v", action="store_true", help=argparse.SUPPRESS)
