# The image runs the same jar as ./pgferry. Build the jar first: ./pgferry --help (or mvn -DskipTests install).
# Based on the PostgreSQL image for its pg_dump/pg_restore (17: they read servers 9.2 to 17).
FROM postgres:17-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
# /keys: where docker-compose.yml's keys service writes the secret key and API token (a volume owned by postgres).
RUN mkdir -p /keys && chown postgres /keys
COPY cli/target/pgferry.jar /app/pgferry.jar
COPY cli/target/lib /app/lib
USER postgres
ENTRYPOINT ["java", "-XX:+UseSerialGC", "-cp", "/app/pgferry.jar:/app/lib/*", "dev.pgferry.cli.Main"]
CMD ["--help"]
