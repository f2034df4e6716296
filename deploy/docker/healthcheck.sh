#!/bin/bash
# chorus-healthcheck PORT [PATH] — exit 0 if GET PATH (default /readyz) on
# 127.0.0.1:PORT answers 200 within 3 seconds, else 1.
#
# Used by the images' HEALTHCHECK and by docker-compose. It needs only bash
# (its /dev/tcp redirection), so the runtime images carry no curl or wget.
set -u
port=${1:?usage: chorus-healthcheck PORT [PATH]}
path=${2:-/readyz}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
IFS= read -r -t 3 status <&3 || exit 1
exec 3<&- 3>&-
# "HTTP/1.1 200 OK"
[[ $status =~ ^HTTP/1\.[01]\ 200[\ $'\r'] ]]
