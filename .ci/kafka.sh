#!/usr/bin/env bash
# Fetches (once) and prints the lib dir of a pinned Apache Kafka, as jars from Maven Central.
#
# No Kafka tarball is reachable here, but Maven Central serves the broker (kafka_2.13) and its
# tools; the jars of their runtime closure make a classpath that runs a single-node KRaft broker
# (`observability/local/run.sh`). connect-runtime is excluded (the tools pull it in with Jetty and
# Jersey, which the broker never loads); kafka-clients logs through slf4j 1.7, hence the log4j
# binding for slf4j 1.x. Cached under the user's cache dir keyed by version.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
LOG4J_VERSION=2.25.3
cache="${XDG_CACHE_HOME:-$HOME/.cache}/maestro-trace/kafka/$KAFKA_VERSION"
lib="$cache/lib"

if [ -f "$cache/.complete" ]; then
  echo "$lib"
  exit 0
fi

command -v mvn >/dev/null || { echo "mvn is required to fetch Kafka (apt-get install -y maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "java is required to run Kafka (apt-get install -y default-jre-headless)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>maestro-trace</groupId>
  <artifactId>kafka-lib</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version>
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
rm -rf "$lib"
mkdir -p "$cache"
start=$(date +%s)
(cd "$work" && mvn -B -q dependency:copy-dependencies -DoutputDirectory="$lib" -DincludeScope=runtime >&2)
ls "$lib"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
touch "$cache/.complete"
echo "fetched Kafka $KAFKA_VERSION ($(ls "$lib" | wc -l) jars) in $(( $(date +%s) - start ))s" >&2
echo "$lib"
