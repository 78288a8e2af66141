"""Feature catalogs: labels, max activations and evidence for an SAE's features.

A catalog is a folder beside its SAE (`S/catalog/` for an SAE folder S, `<file>.catalog/` for a
single-file SAE); docs/catalog.md describes the files. One module per job:

- store.py: reading a catalog lazily (`Catalog`), writing it atomically, merging label sources;
- build.py (with accumulator.py, write.py, auto_labels.py, logit_lens.py, corpus.py): building
  one from the user's own text (`build_catalog`);
- labels_import.py: importing labels (`import_labels`);
- word_search.py, meaning_search.py: finding features by their labels' words or meaning;
- contrast_sets.py: features that separate two sets of texts, and the classifier they make.

Reading features on a text needs no catalog: `steerdesk.engine.reading.features_on_text`.
"""

from __future__ import annotations

from steerdesk.engine.catalog.auto_labels import automatic_label
from steerdesk.engine.catalog.build import build_catalog
from steerdesk.engine.catalog.contrast_sets import (
    Classifier,
    ContrastFeature,
    ContrastResult,
    contrast,
)
from steerdesk.engine.catalog.labels_import import ImportReport, import_labels, read_labels
from steerdesk.engine.catalog.meaning_search import search_meaning, semantic_available
from steerdesk.engine.catalog.store import (
    Catalog,
    FeatureRecord,
    Snippet,
    catalog_folder_for,
    create_empty,
    open_catalog_for,
)
from steerdesk.engine.catalog.word_search import WordIndex, search_words
from steerdesk.engine.reading import features_on_text

__all__ = [
    "Catalog",
    "Classifier",
    "ContrastFeature",
    "ContrastResult",
    "FeatureRecord",
    "ImportReport",
    "Snippet",
    "WordIndex",
    "automatic_label",
    "build_catalog",
    "catalog_folder_for",
    "contrast",
    "create_empty",
    "features_on_text",
    "import_labels",
    "open_catalog_for",
    "read_labels",
    "search_meaning",
    "search_words",
    "semantic_available",
]
