# pgferry's image, built from the sources (no jar needed beforehand): docker build -t pgferry:local .
# Stage 1 builds the same thin jar and lib/ as ./pgferry; stage 2 runs it on the PostgreSQL image, for its
# pg_dump/pg_restore (17: they read servers 9.2 to 17).
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
# The poms first, so that the dependencies stay in a layer of their own while only sources change.
COPY pom.xml .
COPY messages/pom.xml messages/
COPY postgres/pom.xml postgres/
COPY bus/pom.xml bus/
COPY broker/pom.xml broker/
COPY coordinator/pom.xml coordinator/
COPY worker/pom.xml worker/
COPY cli/pom.xml cli/
COPY it/pom.xml it/
RUN mvn -B -q -pl cli -am dependency:resolve dependency:resolve-plugins -DexcludeGroupIds=dev.pgferry || true
COPY messages messages
COPY postgres postgres
COPY bus bus
COPY broker broker
COPY coordinator coordinator
COPY worker worker
COPY cli cli
RUN mvn -B -q -DskipTests -pl cli -am package

FROM postgres:17-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
# /keys: where docker-compose.yml's keys service writes the secret key and API token (a volume owned by postgres).
RUN mkdir -p /keys && chown postgres /keys
COPY --from=build /src/cli/target/pgferry.jar /app/pgferry.jar
COPY --from=build /src/cli/target/lib /app/lib
USER postgres
ENTRYPOINT ["java", "-XX:+UseSerialGC", "-cp", "/app/pgferry.jar:/app/lib/*", "dev.pgferry.cli.Main"]
CMD ["--help"]
