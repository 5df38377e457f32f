# shellcheck shell=bash
# shellcheck disable=SC2034  # OS_DIR, PART_OFFSET, KNOWN_PARAMS are used by the sourcing scripts
# Shared by the tinylinux OS scripts; sourced, not run.
OS_LABEL=tinylinux
: "${OS_DIR:?the sourcing script sets OS_DIR (its own directory, links resolved)}"
# The FAT partition starts 1 MiB into the disk (see build-image); mtools reaches it at IMAGE@@1M.
PART_OFFSET=1M
KNOWN_PARAMS=(hostname)
# shellcheck source=../.gnt-lib/os-common.sh
. "$OS_DIR/../.gnt-lib/os-common.sh"

# Copy file $1 onto disk $2 from offset 0 without truncating it ($3: the file's size, when
# the caller has it). On a regular file the target range is punched out first so that zero
# blocks can be skipped (the disk stays sparse).
write_file_to_disk() {
  local src=$1 dst=$2 len=${3:-} sparse=""
  [ -n "$len" ] || len=$(stat -L -c %s "$src")
  if [ -f "$dst" ] && fallocate --punch-hole --offset 0 --length "$len" "$dst" 2>/dev/null; then
    sparse=,sparse
  fi
  dd if="$src" of="$dst" bs=1M conv=notrunc,fsync$sparse status=none
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
