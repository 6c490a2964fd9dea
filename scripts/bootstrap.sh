#!/usr/bin/env bash
# Sets up everything Prognos needs on a Debian/Ubuntu machine, idempotently:
# the OS packages it runs against (Mosquitto, InfluxDB, and for the tests
# PostgreSQL, Chromium and docker-compose), a virtualenv in .venv/ and the
# Python dependencies. Usage: scripts/bootstrap.sh demo|test
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-demo}"
venv=".venv"

# binary -> Debian package
declare -A packages=([mosquitto]=mosquitto [influxd]=influxdb)
if [ "$purpose" = "test" ]; then
    packages+=([docker-compose]=docker-compose [pg_ctlcluster]=postgresql [chromium]=chromium)
fi

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
for bin in "${!packages[@]}"; do
    have "$bin" || missing+=("${packages[$bin]}")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "prognos: installing OS packages: ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "prognos: need root or sudo to install ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts packaged daemons on install where an init system runs;
    # Prognos runs its own instances under ./var/ on other ports, so leave
    # the system ones alone.
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "prognos: creating virtualenv in $venv" >&2
    python3 -m venv "$venv"
fi
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "prognos: installing Python dependencies into $venv" >&2
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e '.[dev]'
    touch "$stamp"
fi
