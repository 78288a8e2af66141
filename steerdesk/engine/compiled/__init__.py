"""The compiled decode path: a static KV cache, steering in persistent buffers, and
`torch.compile` of the one-token step (CUDA graphs on a GPU, inductor's C++ on the CPU).

The prompt pass stays eager (its length changes from one prompt to the next); each decoding
step after it runs the compiled graph. Tokens equal the eager path's; log-probabilities and
activations agree within float tolerance (the compiler may reorder sums).

    request.compile = True                      # in GenerationRequest; None: on_by_default()
    prepare(session, request, progress)         # compile ahead, with progress (optional)
    unavailable_reason(device)                  # None, or why this machine decodes eagerly
"""

from steerdesk.engine.compiled.registry import CompileSettings, decoders, settings
from steerdesk.engine.compiled.runner import CompiledRun, CompileReport, prepare, start
from steerdesk.engine.compiled.support import inductor_cache_dir, on_by_default, unavailable_reason

__all__ = ["CompileReport", "CompileSettings", "CompiledRun", "decoders", "inductor_cache_dir",
           "on_by_default", "prepare", "settings", "start", "unavailable_reason"]
