#!/usr/bin/env bash
# spark-submit with the project's .venv, the Delta packages and Delta's session conf.
# Usage: scripts/spark-submit.sh [spark-submit options] jobs/daily.py [job options]
# --master defaults to local[*]; the Delta jars recorded by `make install` go to --jars (the
# Delta package to --packages when none are recorded); a --packages or --jars is joined to ours
# (and to the OpenLineage listener's when the job's --config turns lineage on); every other argument
# is forwarded unchanged. One of the project's jobs checks its command line and config first
# (`--check`, no JVM), so a mistake is said at once on stderr with exit 2; spark-submit would
# say it only after starting a JVM, and on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
if [ ! -x "$venv/bin/spark-submit" ]; then
  echo "spark-submit.sh: $venv is missing; run 'make install' first" >&2
  exit 2
fi
JAVA_HOME="$("$root/scripts/java-home.sh")"
export JAVA_HOME
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$venv/bin/python}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$venv/bin/python}"

# Options before the application file belong to spark-submit: note --master, and take
# --packages and --jars out to join them to ours (a second one would replace the Delta jars).
# After the application file come the job's options: note its --config, whose lineage
# switch may need the OpenLineage jar.
has_master=false
user_packages=""
user_jars=""
config=()
forward=()
in_job=false
value_of=""
app=""
job_args=()
cluster_mode=false
for arg in "$@"; do
  if $in_job; then
    job_args+=("$arg")
    case "$value_of" in --config) config=(--config "$arg") ;; esac
    value_of=""
    case "$arg" in
      --config) value_of=--config ;;
      --config=*) config=(--config "${arg#--config=}") ;;
    esac
    forward+=("$arg")
    continue
  fi
  if [ -n "$value_of" ]; then
    case "$value_of" in
      --master) has_master=true ;;
      --packages) user_packages="$arg"; value_of=""; continue ;;
      --jars) user_jars="$arg"; value_of=""; continue ;;
      --deploy-mode) [ "$arg" != cluster ] || cluster_mode=true ;;
      --conf) [ "$arg" != spark.submit.deployMode=cluster ] || cluster_mode=true ;;
    esac
    value_of=""
    forward+=("$arg")
    continue
  fi
  case "$arg" in
    --verbose|-v|--supervise|--help|-h|--version) ;;
    --packages=*) user_packages="${arg#--packages=}"; continue ;;
    --jars=*) user_jars="${arg#--jars=}"; continue ;;
    --master=*) has_master=true ;;
    --deploy-mode=cluster) cluster_mode=true ;;
    --*=*) ;;
    --packages) value_of=--packages; continue ;;
    --jars) value_of=--jars; continue ;;
    -*) value_of="$arg" ;;
    *) in_job=true; app="$arg" ;;  # the application: jobs/daily.py (or a .jar)
  esac
  forward+=("$arg")
done
# In cluster deploy mode the driver, and the paths it checks, are on another machine.
if [ -n "$app" ] && ! $cluster_mode && [ -f "$app" ] \
  && [ "$(cd "$(dirname "$app")" && pwd)" = "$root/jobs" ]; then
  "$venv/bin/python" "$app" --check "${job_args[@]}" || exit $?
fi
# The Delta jars resolved once by `make install` (none recorded: Spark's resolver fetches them),
# the packages still to resolve (the lineage listener's when the config turns it on), the
# driver JVM's options for local mode and its logging (lakehouse.session.LOG_CONFIG).
mapfile -t submit_args < <(
  "$venv/bin/python" -m lakehouse.session --submit-args "$venv/delta-jars.txt" "${config[@]}")
if [ "${#submit_args[@]}" -ne 4 ]; then
  echo "spark-submit.sh: the installed lakehouse package did not say how to submit; run 'make install'" >&2
  exit 2
fi
jars="${submit_args[0]}" packages="${submit_args[1]}"
local_jvm="${submit_args[2]}" driver_options="${submit_args[3]}"
defaults=()
if ! $has_master; then
  defaults+=(--master "local[*]")
  # The driver's JVM does all the work: its garbage collector leaves the cores to it.
  driver_options="$driver_options $local_jvm"
fi
[ -z "$user_packages" ] || packages="${packages:+$packages,}$user_packages"
[ -z "$user_jars" ] || jars="${jars:+$jars,}$user_jars"
[ -z "$jars" ] || defaults+=(--jars "$jars")
[ -z "$packages" ] || defaults+=(--packages "$packages")

exec "$venv/bin/spark-submit" \
  "${defaults[@]}" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf spark.sql.session.timeZone=UTC \
  --conf "spark.driver.extraJavaOptions=$driver_options" \
  "${forward[@]}"
