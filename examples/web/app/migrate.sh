#!/bin/sh
# The schema migration: writes the data the app server serves, then
# exits. The sleep stands for the real work.
set -eu
echo "migrating the schema"
sleep 1
echo "schema v3" > /srv/app/schema.txt.tmp
mv /srv/app/schema.txt.tmp /srv/app/schema.txt
echo "migration done"
