#!/usr/bin/env bash
# Makes sure MariaDB (127.0.0.1:3306, root without password) and PostgreSQL (127.0.0.1:5432,
# user postgres, trust auth) answer, installing and starting them when needed. The SQL store's
# conformance tests (crates/polaris-store-sql) need both and fail when they are unreachable.
# The cluster tests (crates/polaris-cluster, crates/polaris-server/tests/e2e_cluster.rs) also
# need the redis-server binary: they start private instances on ports of their own.
set -euo pipefail

DEADLINE_SECS="${POLARIS_DB_START_TIMEOUT:-60}"

need_apt=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server)
ls /etc/postgresql/*/main >/dev/null 2>&1 || need_apt+=(postgresql)
command -v mariadb >/dev/null 2>&1 || need_apt+=(mariadb-client)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

mariadb_up() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }
postgres_up() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; }

if ! postgres_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! mariadb_up; then
  echo "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi

wait_for() {
  local name=$1 check=$2 deadline=$((SECONDS + DEADLINE_SECS))
  until $check; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$name did not answer on 127.0.0.1 within ${DEADLINE_SECS}s" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "$name is up"
}
wait_for MariaDB mariadb_up
wait_for PostgreSQL postgres_up
