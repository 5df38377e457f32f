# shellcheck shell=bash
# shellcheck disable=SC2034  # OS_DIR, API, KNOWN_PARAMS are used by the sourcing scripts
# Shared by the tinylinux OS scripts (create, import, export, rename, verify); sourced, not run.
#
# Ganeti OS API 20 (environment variables, no arguments) and API 5 (arguments, see
# ganeti-os-interface(7) of Ganeti 1.2). A script called with arguments speaks API 5; called
# without arguments it needs OS_API_VERSION in the environment (API 10, 15 and 20 use the same
# variables for what these scripts read).
set -euo pipefail

OS_DIR=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
SCRIPT=$(basename "$0")
OS_LABEL=tinylinux
# The FAT partition starts 1 MiB into the disk (see build-image); mtools reaches it at IMAGE@@1M.
PART_OFFSET=1M
KNOWN_PARAMS=(hostname)

log() { printf '%s/%s: %s\n' "$OS_LABEL" "$SCRIPT" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage_exit() {
  printf '%s\n' "$USAGE" >&2
  exit 1
}

if [ "${DEBUG_LEVEL:-0}" != 0 ]; then
  set -x
fi

# Decide the API version from how we were called; sets API. Call with the script's "$@".
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

# API 20: the path of disk N (DISK_N_PATH); fails naming the variable when it is missing.
disk_path_env() {
  local n=$1 var="DISK_${1}_PATH" uri="DISK_${1}_URI"
  [ -n "${!var:-}" ] || die "$var is not set${!uri:+ (disk $n is only reachable as ${!uri}; a local file or block device is needed)}"
  printf '%s\n' "${!var}"
}

# Fails unless $1 is a regular file or block device we can write (or read with "ro").
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

human_size() {
  awk -v b="$1" 'BEGIN { printf "%d bytes (%.1f MiB)", b, b / 1048576 }'
}

# Copy file $1 onto disk $2 from offset 0 without truncating it. On a regular file the target
# range is punched out first so that zero blocks can be skipped (the disk stays sparse).
write_file_to_disk() {
  local src=$1 dst=$2 len sparse=""
  len=$(stat -L -c %s "$src")
  if [ -f "$dst" ] && fallocate --punch-hole --offset 0 --length "$len" "$dst" 2>/dev/null; then
    sparse=,sparse
  fi
  dd if="$src" of="$dst" bs=1M conv=notrunc,fsync$sparse status=none
}

# Raw disk data from stdin onto disk $1 (import). Never writes past the disk's size: a longer
# stream is an error. On a regular file the old contents are punched out first (sparse result).
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

# Raw disk $1 to stdout (export); announces the size on EXP_SIZE_FD when Ganeti asks for it.
export_stream() {
  local src=$1 size
  size=$(disk_size "$src")
  if [ -n "${EXP_SIZE_FD:-}" ]; then
    printf '%s\n' "$size" >&"$EXP_SIZE_FD"
  fi
  log "exporting $src ($(human_size "$size")) to stdout"
  dd if="$src" bs=1M status=none
}

# A hostname the guest can use: letters, digits, dots and dashes, labels of 1-63, at most 253.
valid_hostname() {
  local h=$1
  [ ${#h} -ge 1 ] && [ ${#h} -le 253 ] || return 1
  [[ $h =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$ ]]
}

# The hostname to give the guest: the "hostname" OS parameter if set, else instance name $1.
guest_hostname() {
  local name=$1
  if [ -n "${OSP_HOSTNAME:-}" ]; then
    [ "$OSP_HOSTNAME" = "$name" ] || log "OS parameter hostname=$OSP_HOSTNAME overrides the instance name $name"
    name=$OSP_HOSTNAME
  fi
  valid_hostname "$name" || die "'$name' is not a valid guest hostname (letters, digits, '-' and '.', labels of at most 63, total at most 253)"
  printf '%s\n' "$name"
}

# Write the guest hostname into the file "hostname" on the disk's FAT partition (mtools, no mount).
write_hostname() {
  local disk=$1 name=$2 tmp rc=0
  tmp=$(mktemp)
  printf '%s\n' "$name" >"$tmp"
  MTOOLS_SKIP_CHECK=1 mcopy -o -i "$disk@@$PART_OFFSET" "$tmp" ::hostname 2>"$tmp.err" || rc=$?
  if [ $rc != 0 ]; then
    log "mcopy: $(tr '\n' ' ' <"$tmp.err")"
    rm -f "$tmp" "$tmp.err"
    die "cannot write the hostname onto $disk: no tinylinux FAT partition at offset $PART_OFFSET"
  fi
  rm -f "$tmp" "$tmp.err"
  log "hostname on $disk set to $name"
}

read_hostname() {
  MTOOLS_SKIP_CHECK=1 mtype -i "$1@@$PART_OFFSET" ::hostname 2>/dev/null | head -n1 | tr -d '\r'
}
