"""Structured extraction: schemas (:mod:`app.extract.schemas`) filled through the providers."""

from app.extract.runner import Extraction, ExtractionFailed, extract
from app.extract.schemas import EXTRACTORS, Extractor, register

__all__ = ["EXTRACTORS", "Extraction", "ExtractionFailed", "Extractor", "extract", "register"]
