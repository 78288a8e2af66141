"""What the gallery dialog shows, without Qt: one row per gallery entry, in words, and the
texts for a download's progress and errors. (Qt-free so it is tested without a window.)"""

from __future__ import annotations

from dataclasses import dataclass

from steerdesk.engine import pulls
from steerdesk.engine.downloads import DownloadError, PullProgress, human_bytes, human_seconds
from steerdesk.engine.gallery import Gallery, load_gallery


@dataclass
class GalleryRow:
    name: str                # the gallery model name
    sae_name: str            # RELEASE:SAE_ID
    model_repo: str
    title: str
    size: str                # download size, in words
    needs: str               # memory for the weights
    licence: str             # licence, and the gated note
    gated: bool
    here: str                # "yes", "part", "no"
    good_for: str
    details: str             # the longer description under the table (HTML)

    @property
    def downloaded(self) -> bool:
        return self.here == "yes"


def _licence(t: pulls.Target) -> tuple[str, bool]:
    m = t.model
    gated = bool(m and m.gated)
    text = (m.licence or "licence not checked") if m else "?"
    return (f"gated · {text}" if gated else text), gated


def rows(gallery: Gallery | None = None) -> list[GalleryRow]:
    gallery = gallery or load_gallery(with_registry=False)
    out = []
    for e in gallery.entries:
        t = pulls.target(e.name, gallery)
        m, rel, sae = t.model, t.release, t.sae
        st = pulls.status(t)
        here = "yes" if all(st.values()) else "part" if any(st.values()) else "no"
        size = (m.download_estimate() if m else 0) or 0
        size += rel.sae_bytes(sae) or 0
        needs = (f"{human_bytes(m.weights_bytes('bfloat16'))} (bf16) · "
                 f"{human_bytes(m.weights_bytes('float32'))} (fp32)") if m and m.params else "?"
        licence, gated = _licence(t)
        lines = [f"<b>{m.title if m else rel.model}</b> ({m.repo if m else '?'}) with "
                 f"<b>{t.name}</b>", rel.title,
                 f"SAE: {sae.width or '?'} features at <code>{sae.hook}</code>"
                 + (f", L0 ≈ {sae.l0:g}" if sae.l0 else "")
                 + (f", labels on Neuronpedia ({rel.neuronpedia_model}/{sae.neuronpedia})"
                    if sae.neuronpedia else ""),
                 f"Good for: {e.good_for}"]
        if gated and m:
            lines.append(f"<b>Gated:</b> accept the licence on "
                         f"<a href='https://huggingface.co/{m.repo}'>huggingface.co/{m.repo}</a>, "
                         "then log in with <code>hf auth login</code> or set HF_TOKEN.")
        out.append(GalleryRow(e.name, t.name, m.repo if m else "", m.title if m else e.name,
                              f"≈ {human_bytes(size)}", needs, licence, gated, here, e.good_for,
                              "<br>".join(lines)))
    return out


def progress_text(p: PullProgress) -> str:
    rate = f"{human_bytes(p.rate)}/s" if p.rate else "starting"
    return (f"{human_bytes(p.done)} of {human_bytes(p.total)} · {rate} · "
            f"{human_seconds(p.eta)} left · {p.file}")


def error_title(exc: BaseException) -> str:
    kind = getattr(exc, "kind", None) if isinstance(exc, DownloadError) else None
    return {"gated": "This model is gated", "not_found": "Not found",
            "network": "No connection", "offline": "Offline mode",
            "disk": "Not enough disk space"}.get(kind or "", "Cannot download")
