#!/bin/sh
# Brings the database schema up to date, then runs whoelse (by default `whoelse serve`).
# Migrating on every start is safe: `whoelse db upgrade` does nothing when the schema is already current. With
# several replicas, migrate once as a release step instead (README "Deployment").
set -eu
whoelse db upgrade
exec whoelse "$@"
