#!/usr/bin/env bash
# Starts, stops or reports the local AWS emulator on 127.0.0.1:4566 for people working on a laptop:
#   scripts/emulator.sh start | stop | status
# EMULATOR=moto (the default) runs moto server; EMULATOR=localstack runs LocalStack on the host,
# without Docker (Python 3.13, see scripts/localstack-venv.sh). PANKA_EMULATOR_PORT moves the port.
# Point panka at it with AWS_ENDPOINT_URL=http://127.0.0.1:4566 (see docs/operations.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${PANKA_EMULATOR_PORT:-4566}"
emulator="${EMULATOR:-moto}"
state="${PANKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/panka}/emulator-$port"
pidfile="$state/pid"
mkdir -p "$state"

# How long a first start may take: moto imports every service's models; LocalStack loads its
# plugins (seconds on two cores, more on the very first run while Python compiles them).
startup_seconds=90

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
running_name() { cat "$state/emulator" 2>/dev/null || echo moto; }
answers() { curl -sS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; }

wait_ready() {
  local probe="$1" deadline=$((SECONDS + startup_seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! running; then
      echo "$emulator exited before answering; see $state/log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    if curl -fsS "http://127.0.0.1:$port$probe" >/dev/null 2>&1; then
      echo "$emulator running on http://127.0.0.1:$port (pid $(cat "$pidfile"), log $state/log)"
      exit 0
    fi
    sleep 0.2
  done
  echo "$emulator did not answer on port $port within ${startup_seconds}s; see $state/log" >&2
  exit 1
}

case "${1:-status}" in
  start)
    if running; then echo "$(running_name) already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
    # LocalStack keeps running when its port is taken (it logs the error and answers nothing),
    # and a probe would then reach the other server: refuse a port something already answers on.
    if answers; then
      echo "something already answers on 127.0.0.1:$port; stop it or set PANKA_EMULATOR_PORT" >&2
      exit 1
    fi
    case "$emulator" in
      moto)
        venv="$("$root/scripts/moto-venv.sh")"
        # ECS services report their tasks as running only when moto is told to (a known moto
        # gap): every new service then reports this many running tasks, enough for services of
        # up to three replicas to finish their rollout.
        MOTO_ECS_SERVICE_RUNNING="${MOTO_ECS_SERVICE_RUNNING:-3}" \
          nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/log" 2>&1 &
        echo $! >"$pidfile"
        echo moto >"$state/emulator"
        wait_ready /moto-api/
        ;;
      localstack)
        venv="$("$root/scripts/localstack-venv.sh")"
        # LocalStack on the host: its files under this folder (OVERRIDE_IN_DOCKER=0 makes it use
        # FILESYSTEM_ROOT even when this shell itself runs in a container), no DNS server (it
        # would take port 53), no download of its TLS certificate and no usage events (both
        # reach the internet).
        rm -rf "$state/localstack"
        GATEWAY_LISTEN="127.0.0.1:$port" OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$state/localstack" \
          DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
          nohup "$venv/bin/python" -m localstack.runtime.main >"$state/log" 2>&1 &
        echo $! >"$pidfile"
        echo localstack >"$state/emulator"
        wait_ready /_localstack/health
        ;;
      *) echo "EMULATOR must be moto or localstack, not $emulator" >&2; exit 2 ;;
    esac
    ;;
  stop)
    if running; then
      pid="$(cat "$pidfile")" name="$(running_name)"
      kill "$pid"
      # LocalStack shuts its services down on SIGTERM; give it a moment, then make sure.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
      echo "$name stopped"
    else
      echo "emulator not running"
    fi
    ;;
  status)
    if running; then echo "$(running_name) running on http://127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "emulator not running"; exit 1; fi
    ;;
  *) echo "usage: [EMULATOR=moto|localstack] $0 start|stop|status" >&2; exit 2 ;;
esac
