#!/usr/bin/env bash
# Print a JAVA_HOME for Java 17 or 21 (what Spark 4 supports): the current one if it fits,
# else one found beside it in /usr/lib/jvm. Other JDKs (a newer default) are left alone.
version_of() { "$1/bin/java" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  case "$(version_of "$JAVA_HOME")" in 17|21) echo "$JAVA_HOME"; exit 0 ;; esac
fi
for candidate in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk* /usr/lib/jvm/*17* \
                 /usr/lib/jvm/java-21-openjdk* /usr/lib/jvm/*21*; do
  if [ -x "$candidate/bin/java" ]; then
    case "$(version_of "$candidate")" in 17|21) echo "$candidate"; exit 0 ;; esac
  fi
done
java_bin=$(command -v java) && dirname "$(dirname "$(readlink -f "$java_bin")")"
