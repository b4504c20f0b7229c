#!/bin/sh
# The app server: refuses to start before the migration has run, then
# serves /srv/app on 127.0.0.1:8081 (inside the container only).
#     app-server.sh [--banner TEXT]
set -eu
if [ ! -f /srv/app/schema.txt ]; then
	echo "app: no schema: the migration has not run" >&2
	exit 1
fi
if [ "${1:-}" = --banner ]; then
	echo "$2" > /srv/app/banner.txt
fi
echo "app: serving $(cat /srv/app/schema.txt)"
exec httpd -f -p 127.0.0.1:8081 -h /srv/app
