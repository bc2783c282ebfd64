#!/usr/bin/env bash
# poort-probe PORT PATH: exits 0 when http://127.0.0.1:PORT/PATH answers 200, 1 otherwise.
# The container's health check, without curl in the image: bash's /dev/tcp and a plain HTTP/1.0
# request. Kubernetes uses its own httpGet probes instead.
#
#   poort-probe 9090 /readyz      # ready: register, Redis, keys, metadata, audit spool
#   poort-probe 9090 /healthz     # alive
set -u
port="${1:-9090}"
path="${2:-/healthz}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
IFS= read -r -t 5 status <&3 || exit 1
exec 3<&-
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
  *) exit 1 ;;
esac
