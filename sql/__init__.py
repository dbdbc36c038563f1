"""DuckDB views over the pipeline's output (``views.sql``)."""
