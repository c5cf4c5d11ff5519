#!/usr/bin/env bash
# Podman (with the runc runtime: crun fails on these machines' cgroup layout) and debootstrap
# (for the Debian base without a registry), from Debian's packages, where missing. Needs root
# the first time; a machine that has them is left alone.
set -euo pipefail
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc ]] || missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
(( ${#missing[@]} )) || exit 0
if [[ $(id -u) != 0 ]]; then
  echo "the container tests need ${missing[*]}: run as root, or apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null  # with Recommends, as checked here
