#!/usr/bin/env bash
# Starts, stops or reports the local AWS emulator (moto server) on 127.0.0.1:4566 for people
# working on a laptop:  scripts/emulator.sh start | stop | status
# Point panka at it with AWS_ENDPOINT_URL=http://127.0.0.1:4566 (see docs/operations.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${PANKA_EMULATOR_PORT:-4566}"
state="${PANKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/panka}/emulator-$port"
pidfile="$state/pid"
mkdir -p "$state"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-status}" in
  start)
    if running; then echo "emulator already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
    venv="$("$root/scripts/moto-venv.sh")"
    # ECS services report their tasks as running only when moto is told to (a known moto gap):
    # every new service then reports this many running tasks, enough for services of up to
    # three replicas to finish their rollout.
    MOTO_ECS_SERVICE_RUNNING="${MOTO_ECS_SERVICE_RUNNING:-3}" \
      nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
        echo "emulator running on http://127.0.0.1:$port (pid $(cat "$pidfile"), log $state/log)"
        exit 0
      fi
      sleep 0.2
    done
    echo "emulator did not answer on port $port; see $state/log" >&2
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; rm -f "$pidfile"; echo "emulator stopped"; else echo "emulator not running"; fi
    ;;
  status)
    if running; then echo "emulator running on http://127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "emulator not running"; exit 1; fi
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
