# shellcheck shell=bash
# shellcheck disable=SC2034  # OS_LABEL is used by os-common.sh
# Shared by the blank OS scripts; sourced, not run.
OS_LABEL=blank
# shellcheck source=../.gnt-lib/os-common.sh
. "${OS_DIR:?the sourcing script sets OS_DIR}/../.gnt-lib/os-common.sh"
