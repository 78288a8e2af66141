"""Feature catalogs: labels, max activations and evidence for an SAE's features.

A catalog is a folder beside its SAE (`S/catalog/` for an SAE folder S, `<file>.catalog/` for a
single-file SAE); docs/catalog.md describes the files. This package reads it lazily
(`Catalog`), builds it from the user's own text (`build_catalog`), imports labels
(`import_labels`), and searches features (`search_words`, `search_meaning`,
`features_on_text`, `contrast`).
"""

from __future__ import annotations

from steerdesk.engine.catalog.build import automatic_label, build_catalog
from steerdesk.engine.catalog.labels_import import ImportReport, import_labels, read_labels
from steerdesk.engine.catalog.search import (Classifier, ContrastFeature, ContrastResult,
                                             WordIndex, contrast, features_on_text,
                                             search_meaning, search_words, semantic_available)
from steerdesk.engine.catalog.store import (Catalog, FeatureRecord, Snippet, catalog_folder_for,
                                            create_empty, open_catalog_for)

__all__ = ["Catalog", "FeatureRecord", "Snippet", "open_catalog_for", "catalog_folder_for",
           "create_empty", "build_catalog", "automatic_label", "import_labels", "read_labels",
           "ImportReport", "search_words", "search_meaning", "semantic_available",
           "features_on_text", "contrast", "ContrastResult", "ContrastFeature", "Classifier",
           "WordIndex"]
