# shellcheck shell=sh
# filevol: an ExtStorage provider keeping each volume as a sparse file in EXTP_DIR.
# For tests and labs on hosts without shared block storage: attach prints the file's path
# (a regular file, not a block device; QEMU and the gnt.cluster backends accept both).
set -eu
die() { echo "filevol $(basename "$0"): $*" >&2; exit 1; }
dir=${EXTP_DIR:-}
[ -n "$dir" ] || die "the dir parameter (EXTP_DIR) is not set"
case "$dir" in /*) ;; *) die "dir $dir is not an absolute path" ;; esac
[ -d "$dir" ] || die "dir $dir does not exist"
name=${VOL_NAME:-}
case "$name" in ""|.*|*/*) die "invalid volume name '$name'" ;; esac
# shellcheck disable=SC2034  # used by the scripts that source this file
volume="$dir/$name"
