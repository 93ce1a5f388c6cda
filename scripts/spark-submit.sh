#!/usr/bin/env bash
# spark-submit with the project's .venv, the Delta packages and Delta's session conf.
# Usage: scripts/spark-submit.sh [spark-submit options] jobs/daily.py [job options]
# --master defaults to local[*]; every other argument is forwarded unchanged.
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

# Options before the application file belong to spark-submit; look for --master there.
has_master=false
for arg in "$@"; do
  case "$arg" in
    --master|--master=*) has_master=true ;;
    *.py|*.jar) break ;;
  esac
done
defaults=()
$has_master || defaults+=(--master "local[*]")

exec "$venv/bin/spark-submit" \
  "${defaults[@]}" \
  --packages "$("$venv/bin/python" -m lakehouse.session --packages)" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf spark.sql.session.timeZone=UTC \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:$root/conf/log4j2.properties" \
  "$@"
