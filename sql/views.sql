-- One view per table of a pipeline output folder. Replace OUT with the folder, or run
-- `python -m pipeline query --output OUT` which does it for you.
CREATE OR REPLACE VIEW articles   AS SELECT * FROM read_parquet('OUT/articles/*.parquet');
CREATE OR REPLACE VIEW mentions   AS SELECT * FROM read_parquet('OUT/mentions/*.parquet');
CREATE OR REPLACE VIEW entities   AS SELECT * FROM read_parquet('OUT/entities/*.parquet');
CREATE OR REPLACE VIEW dates      AS SELECT * FROM read_parquet('OUT/dates/*.parquet');
CREATE OR REPLACE VIEW errors     AS SELECT * FROM read_parquet('OUT/errors/*.parquet');
CREATE OR REPLACE VIEW runs       AS SELECT * FROM read_parquet('OUT/runs/*.parquet');
CREATE OR REPLACE VIEW ingest_log AS SELECT * FROM read_parquet('OUT/ingest_log/*.parquet');

-- Canonical articles only: what entity counts are based on.
CREATE OR REPLACE VIEW stories AS SELECT * FROM articles WHERE duplicate_of IS NULL;

-- Mentions with their article's date and title ("who was mentioned when").
CREATE OR REPLACE VIEW mention_timeline AS
SELECT m.*, a.published_at, a.title, a.source_uri
FROM mentions m JOIN articles a USING (article_id);

-- Entities co-mentioned in the same article ("next to whom"), each pair once.
CREATE OR REPLACE VIEW co_mentions AS
SELECT a.entity_id AS entity_a, b.entity_id AS entity_b, count(DISTINCT a.article_id) AS articles
FROM (SELECT DISTINCT article_id, entity_id FROM mentions) a
JOIN (SELECT DISTINCT article_id, entity_id FROM mentions) b
  ON a.article_id = b.article_id AND a.entity_id < b.entity_id
GROUP BY ALL;

-- Live entity totals, computed from mentions when queried: current while the folder watcher
-- (`--watch`) appends mentions, whereas the `entities` table is rewritten by batch runs only
-- (each recomputes it from every stored mention, watcher's included). Same columns as `entities`;
-- `name` is the most frequent mention text.
CREATE OR REPLACE VIEW entity_totals AS
WITH names AS (
    SELECT entity_id, text, count(*) AS n FROM mentions GROUP BY ALL
), ranked AS (
    SELECT entity_id, list(text ORDER BY n DESC, text) AS aliases FROM names GROUP BY entity_id
)
SELECT m.entity_id, r.aliases[1] AS name, any_value(m.label) AS label,
       count(*) AS mention_count, count(DISTINCT m.article_id) AS article_count,
       min(a.published_at) AS first_seen, max(a.published_at) AS last_seen,
       r.aliases[1:20] AS aliases
FROM mentions m JOIN ranked r USING (entity_id) LEFT JOIN articles a USING (article_id)
GROUP BY m.entity_id, r.aliases;
