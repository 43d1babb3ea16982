#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the project needs, if missing:
#   espeak-ng        speaks the synthetic Common Voice-style corpus (demo, tests)
#   libicu-dev pkg-config  ICU's headers, which pip builds PyICU (requirements.txt) against:
#                    CLDR's alphabets of the languages (crossling_asr/data/cldr.py)
#   slurm-wlm munge  a single-node SLURM for the grid runner's cluster tests
# Usage: bash local/install_system_packages.sh [--with-slurm]
set -euo pipefail
packages=(espeak-ng libicu-dev pkg-config)
[[ "${1:-}" == "--with-slurm" ]] && packages+=(slurm-wlm munge)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "Need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "Installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
