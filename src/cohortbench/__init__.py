"""cohortbench: honest, fast benchmarking of ML pipelines for small multimodal cohorts."""

__version__ = "0.1.0"
