# The agent-scheduler image: `agent-scheduler api` by default, `agent-scheduler worker` for workers
# (see docker-compose.temporal.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . && rm -rf /app/build

RUN useradd --create-home --uid 10001 app
USER app
WORKDIR /home/app

ENV AGENT_SCHEDULER_HOST=0.0.0.0 \
    AGENT_SCHEDULER_PORT=8787 \
    AGENT_SCHEDULER_DATA_DIR=/home/app/data
EXPOSE 8787

CMD ["agent-scheduler", "api"]
