"""Logging: one JSON object per line for machines, readable lines on a TTY."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time

import orjson

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Every `extra=` key (schedd, pool, target, topic...) becomes a field of the line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class RepeatedLines(logging.Filter):
    """Keeps the first line of a failure and counts its repeats into one line at most every `interval_s`.

    librdkafka logs every failed connection attempt, several times a second with a wrong CA or password (it
    retries at once when TCP connects and the handshake fails); one line per failure is what an operator reads.
    """

    _VOLATILE = re.compile(r"\[rdkafka#[^\]]*\] |\s*\(after \d+ms in state \w+\)|, \d+ identical error\(s\) suppressed")

    _OPENSSL_CODE = re.compile(r"error:[0-9A-F]{8}")

    def __init__(self, interval_s: float = 300.0, clock=time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def key(self, message: str) -> str:
        """What identifies a failure: the text without client names and timings; an OpenSSL error code stands for
        the whole message (librdkafka reports a failed handshake twice, in a long and a short form)."""
        text = self._VOLATILE.sub("", message)
        code = self._OPENSSL_CODE.search(text)
        return text.partition("]:")[0] + code.group() if code else text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = self.key(record.getMessage())
        now = self.clock()
        with self._lock:
            since, repeats = self._seen.get(key, (0.0, 0))
            if since and now - since < self.interval_s:
                self._seen[key] = (since, repeats + 1)
                return False
            self._seen[key] = (now, 0)
        if repeats:
            record.msg, record.args = f"{record.getMessage()} (and {repeats} times more since the last report)", ()
        return True


# librdkafka clients log here (KafkaSettings.client_config), in the service's format, each failure once.
LIBRDKAFKA = logging.getLogger("librdkafka")
LIBRDKAFKA.addFilter(RepeatedLines())


class _PythonKafkaRepeats(RepeatedLines):
    """The same for aiokafka (the converter's consumer), which logs every failed connection to every broker: about
    4,000 error lines in 15 s with all brokers restarting."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("aiokafka", "kafka")) or super().filter(record)


def setup(service: str, level: str = "INFO", fmt: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    human = fmt == "human" or (fmt == "auto" and sys.stderr.isatty())
    if human:
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    handler.addFilter(_PythonKafkaRepeats())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings as log lines of this format, not raw text on stderr
    for noisy in ("kafka", "aiokafka", "stomp", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # The search clients warn about every failed attempt, with a stack trace; the sinks say once per outage why.
    for per_attempt in ("elastic_transport", "opensearch"):
        logging.getLogger(per_attempt).setLevel(max(logging.ERROR, root.level))
