# shellcheck shell=bash
# shellcheck disable=SC2034  # API is used by the sourcing scripts
# Shared by the bundled OS definitions' scripts (create, import, export, rename, verify);
# sourced through each definition's common.sh, which sets OS_LABEL first. Installed by
# node_prepare beside the definitions, in a hidden directory OS discovery skips.
#
# Ganeti OS API 20 (environment variables, no arguments) and API 5 (arguments, see
# ganeti-os-interface(7)). A script called with arguments speaks API 5; called without
# arguments it needs OS_API_VERSION in the environment (API 10, 15 and 20 use the same
# variables for what these scripts read).
set -euo pipefail

: "${OS_LABEL:?common.sh must set OS_LABEL before sourcing os-common.sh}"

SCRIPT=${0##*/}

log() { printf '%s/%s: %s\n' "$OS_LABEL" "$SCRIPT" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage_exit() {
  printf '%s\n' "$USAGE" >&2
  exit 1
}

if [ "${DEBUG_LEVEL:-0}" != 0 ]; then
  set -x
fi

detect_api() {
  if [ $# -gt 0 ]; then
    case $1 in -h | --help) usage_exit ;; esac
    API=5
  elif [ -n "${OS_API_VERSION:-}" ]; then
    case $OS_API_VERSION in
      10 | 15 | 20) API=$OS_API_VERSION ;;
      *) die "unsupported OS_API_VERSION=$OS_API_VERSION (this OS supports 20, 15, 10 and 5)" ;;
    esac
    case ${OS_VARIANT:-default} in
      default | "") ;;
      *) die "unknown variant '$OS_VARIANT' (variants.list: default)" ;;
    esac
  else
    usage_exit
  fi
}

disk_path_env() {
  local n=$1 var="DISK_${1}_PATH" uri="DISK_${1}_URI"
  [ -n "${!var:-}" ] || die "$var is not set${!uri:+ (disk $n is only reachable as ${!uri}; a local file or block device is needed)}"
  printf '%s\n' "${!var}"
}

check_disk() {
  local d=$1 mode=${2:-rw}
  [ -e "$d" ] || die "disk $d does not exist"
  [ -b "$d" ] || [ -f "$d" ] || die "disk $d is neither a regular file nor a block device"
  [ -r "$d" ] || die "disk $d is not readable"
  if [ "$mode" = rw ]; then
    [ -w "$d" ] || die "disk $d is not writable"
  fi
  return 0
}

disk_size() {
  if [ -b "$1" ]; then
    blockdev --getsize64 "$1"
  else
    stat -L -c %s "$1"
  fi
}

# "N bytes (M.m MiB)", rounded to a tenth of a MiB, in the shell (no process).
human_size() {
  local tenths=$((($1 * 10 + 524288) / 1048576))
  printf '%d bytes (%d.%d MiB)' "$1" $((tenths / 10)) $((tenths % 10))
}

# Raw disk data from stdin onto disk $1. Never writes past the disk's size: a longer stream is
# an error. On a regular file the old contents are punched out first (sparse result).
import_stream() {
  local dst=$1 size sparse="" extra
  size=$(disk_size "$dst")
  if [ -f "$dst" ] && fallocate --punch-hole --offset 0 --length "$size" "$dst" 2>/dev/null; then
    sparse=,sparse
  fi
  log "importing raw data from stdin onto $dst ($(human_size "$size"))"
  dd of="$dst" bs=1M iflag=fullblock,count_bytes count="$size" conv=notrunc,fsync$sparse status=none
  extra=$(head -c 1 | wc -c)
  [ "$extra" = 0 ] || die "the import stream is larger than disk $dst ($(human_size "$size")); the disk holds its first $size bytes"
}

# Raw disk $1 to stdout; announces the size on EXP_SIZE_FD when Ganeti asks for it.
export_stream() {
  local src=$1 size
  size=$(disk_size "$src")
  if [ -n "${EXP_SIZE_FD:-}" ]; then
    printf '%s\n' "$size" >&"$EXP_SIZE_FD"
  fi
  log "exporting $src ($(human_size "$size")) to stdout"
  dd if="$src" bs=1M status=none
}
