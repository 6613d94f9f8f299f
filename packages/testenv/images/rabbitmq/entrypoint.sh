#!/bin/sh
# The official image's environment contract, for Debian's RabbitMQ: the default user from
# RABBITMQ_DEFAULT_USER/_PASS and the Erlang cookie from RABBITMQ_ERLANG_COOKIE. The root
# filesystem is read-only, so the generated main config goes to /tmp (an emptyDir).
set -eu
if [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]; then
  rm -f "$HOME/.erlang.cookie"
  (umask 077 && printf '%s' "$RABBITMQ_ERLANG_COOKIE" > "$HOME/.erlang.cookie")
  chmod 400 "$HOME/.erlang.cookie"
fi
conf="${TMPDIR:-/tmp}/rabbitmq.conf"
(
  umask 077
  {
    echo 'loopback_users.guest = false'
    echo 'listeners.tcp.default = 5672'
    echo 'log.console = true'
    echo 'log.file = false'
    if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then echo "default_user = $RABBITMQ_DEFAULT_USER"; fi
    if [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then echo "default_pass = $RABBITMQ_DEFAULT_PASS"; fi
  } > "$conf"
)
export RABBITMQ_CONFIG_FILE="$conf"
# Debian's 3.10 still writes an upgrade log file (and Erlang a crash dump) under
# /var/log/rabbitmq, which the read-only root filesystem refuses: keep both in /tmp.
export RABBITMQ_LOG_BASE="${TMPDIR:-/tmp}/rabbitmq-log"
export ERL_CRASH_DUMP="${TMPDIR:-/tmp}/erl_crash.dump"
mkdir -p "$RABBITMQ_LOG_BASE"
if [ "${1:-}" = rabbitmq-server ]; then
  shift
  exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec "$@"
