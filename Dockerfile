# The service image; docker-compose.yml pairs it with a PostGIS container.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY geo_service ./geo_service
COPY layers ./layers
COPY maps ./maps
COPY data ./data
# Editable, so the package finds data/ (the demo district) beside it.
RUN pip install -e . && useradd --system --home /app geo && chown -R geo /app
USER geo
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["sh", "-c", "geo-service db up && geo-service demo --if-empty && geo-service serve --host 0.0.0.0 --port 8000"]
