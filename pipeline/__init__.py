"""Driver of the news ingestion pipeline: options, graph wiring and the entry point."""

import logging


class _DropOptionalGcpNotice(logging.Filter):
    """Beam warns at import that the optional GCP client libraries are absent; not our concern."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_DropOptionalGcpNotice())
