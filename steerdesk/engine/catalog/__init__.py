"""Feature catalogs: labels, max activations and evidence for an SAE's features.

A catalog is a folder beside its SAE (`S/catalog/` for an SAE folder S, `<file>.catalog/` for a
single-file SAE); docs/catalog.md describes the files. This package reads it lazily
(`Catalog`), builds it from the user's own text (`build_catalog`), imports labels
(`import_labels`), and searches features (`search_words`, `search_meaning`,
`features_on_text`, `contrast`).
"""

from __future__ import annotations

from steerdesk.engine.catalog.build import automatic_label, build_catalog
from steerdesk.engine.catalog.labels_import import (
                                             ImportReport,
                                             import_labels,
                                             read_labels,
)
from steerdesk.engine.catalog.search import (
                                             Classifier,
                                             ContrastFeature,
                                             ContrastResult,
                                             WordIndex,
                                             contrast,
                                             features_on_text,
                                             search_meaning,
                                             search_words,
                                             semantic_available,
)
from steerdesk.engine.catalog.store import (
                                             Catalog,
                                             FeatureRecord,
                                             Snippet,
                                             catalog_folder_for,
                                             create_empty,
                                             open_catalog_for,
)

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
