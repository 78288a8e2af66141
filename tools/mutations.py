"""The named one-line mutations that tools/mutation_check.py plants, one at a time.

Each mutation names a file, an exact snippet to find there (it must occur exactly once; a
snippet may carry a line of context to be unique, but only one line changes), its
replacement, and the tests that should notice. Snippets, not line numbers, so that the list
survives edits elsewhere in a file; a snippet that is no longer there is reported as stale.

`owner` marks mutations of code another branch is rewriting: the lead updates their
snippets (and tests) when that branch lands.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutation:
    name: str
    group: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    what: str                       # what would go wrong for a user
    owner: str = ""                 # e.g. "ui-refactor": update when that branch lands
    extra: dict = field(default_factory=dict)


KINDS = "tests/engine/test_steering_kinds.py"
STEER = "tests/engine/test_steering.py"
SAMPLING = "tests/engine/test_sampling.py"
ROWS = "tests/engine/test_generation_rows.py"
GEN = "tests/engine/test_generation.py"
PREFILL = ("tests/engine/test_prefill_fast_path.py", "tests/engine/test_shared_prefill.py")
CAT_VALUES = "tests/engine/catalog/test_catalog_values.py"
CLI = "tests/cli/test_generate_options.py"
UI_WORKER = ("tests/ui/test_worker.py", "tests/ui/test_ui_controller.py",
             "tests/ui/test_ui_compare.py", "tests/ui/test_ui_open.py")

ST = "steerdesk/engine/steering.py"
SAE = "steerdesk/engine/sae/base.py"
G = "steerdesk/engine/generation.py"

M = Mutation
MUTATIONS: list[Mutation] = [
    # ---- steering ----------------------------------------------------------------------
    M("steer-add-sign", "steering", ST, "h = h + self.add_vec", "h = h - self.add_vec",
      (KINDS,), "add pushes the wrong way"),
    M("steer-add-unscaled", "steering", ST,
      "self.add_vec = (coef @ rows * sae.model_space_scale()).unsqueeze(1)",
      "self.add_vec = (coef @ rows).unsqueeze(1)", (KINDS,),
      "add on a `scale`-normalised SAE (Llama Scope) adds the row in SAE units"),
    M("steer-adds-do-not-sum", "steering", ST,
      "adds[(r, f.index)] = adds.get((r, f.index), 0.0) + s", "adds[(r, f.index)] = s",
      (STEER,), "the same feature twice in a variant keeps only the last strength"),
    M("steer-first-clamp-wins", "steering", ST,
      "clamps[(r, f.index)] = s  # the last clamp of a feature in a variant wins",
      "clamps.setdefault((r, f.index), s)", (KINDS,),
      "a preset that clamps a feature twice keeps the first value"),
    M("steer-clamp-delta-sign", "steering", ST,
      "delta = (self.clamp_target.unsqueeze(1) - current) * self.clamp_mask.unsqueeze(1)",
      "delta = (self.clamp_target.unsqueeze(1) + current) * self.clamp_mask.unsqueeze(1)",
      (KINDS,), "clamp lands at target + 2 x the current activation"),
    M("steer-clamp-no-row-mask", "steering", ST,
      "delta = (self.clamp_target.unsqueeze(1) - current) * self.clamp_mask.unsqueeze(1)",
      "delta = (self.clamp_target.unsqueeze(1) - current)", (KINDS,),
      "every row (the baseline too) is clamped, to 0 where it sets nothing"),
    M("steer-clamp-no-norm-state", "steering", ST,
      "state = sae.normalise(h)[1] if sae.cfg.normalize_activations != \"none\" else None",
      "state = None", (KINDS,),
      "clamp on a per-token normalised SAE (OpenAI v5) moves by SAE units, not model units"),
    M("steer-clamp-topk-state-lost", "steering", ST,
      "rows = sae.decoder_rows(self.clamp_index, state)   # [n, d] or [B, T, n, d]",
      "rows = sae.decoder_rows(self.clamp_index)   # [n, d] or [B, T, n, d]", (KINDS,),
      "clamp ignores the per-token normalisation for every architecture"),
    M("steer-ablate-uses-strength", "steering", ST,
      "    if f.mode == \"ablate\":\n        return 0.0",
      "    if f.mode == \"ablate\":\n        return float(f.strength)", (KINDS,),
      "ablate with a strength in the preset clamps to that strength instead of 0"),
    M("steer-positions-ignored", "steering", ST,
      "return self.positions == \"all\" or not self.in_prefill", "return True",
      (STEER, CLI), "'generated tokens only' steers the prompt too"),
    M("steer-readout-before-steering", "steering", ST, "self._read(h, steer)",
      "self._read(hidden.to(sae.dtype), steer)", (KINDS,),
      "the plots show the unsteered activations"),
    M("steer-topk-readout-not-pinned", "steering", ST,
      "new = torch.where(m > 0, self.clamp_target.unsqueeze(1).expand_as(cur), cur)",
      "new = cur", (KINDS,), "the top-k readout under a clamp shows the SAE's re-encode"),
    M("steer-watch-not-pinned", "steering", ST,
      "m > 0, self.clamp_target[:, c].view(-1, 1), watched[..., w])",
      "m < 0, self.clamp_target[:, c].view(-1, 1), watched[..., w])", (STEER,),
      "the watched clamped feature reads its re-encode, not the set value"),
    M("steer-unit-max-ignored", "steering", ST, "return float(f.strength) * peak",
      "return float(f.strength)", (STEER,), "'x max activation' strengths are raw"),

    # ---- SAE encode, per architecture and normalisation --------------------------------
    M("sae-jumprelu-no-threshold", "sae", SAE,
      "return torch.relu(pre) * (pre > self.threshold).to(pre.dtype), state",
      "return torch.relu(pre), state", (KINDS,), "JumpReLU SAEs (Gemma Scope) fire too often"),
    M("sae-jumprelu-subset-no-threshold", "sae", SAE,
      "acts = acts * (pre > self.threshold[indices]).to(pre.dtype)", "acts = acts", (KINDS,),
      "JumpReLU readout and clamp disagree with the full encode"),
    M("sae-gated-no-gate", "sae", SAE, "return gate.to(mag.dtype) * mag, state",
      "return mag, state", (KINDS,), "gated SAEs ignore their gate"),
    M("sae-gated-subset-no-gate", "sae", SAE,
      "            return gate.to(mag.dtype) * mag\n        pre = xs @ W + self.b_enc[indices]",
      "            return mag\n        pre = xs @ W + self.b_enc[indices]", (KINDS,),
      "gated readout and clamp ignore the gate"),
    M("sae-gated-no-r-mag", "sae", SAE,
      "mag = torch.relu(xs @ (self.W_enc * torch.exp(self.r_mag)) + self.b_mag)",
      "mag = torch.relu(xs @ self.W_enc + self.b_mag)", (KINDS,),
      "gated magnitudes without their rescale"),
    M("sae-topk-no-relu", "sae", SAE,
      "return torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values)), state",
      "return torch.zeros_like(pre).scatter_(-1, top.indices, top.values), state", (KINDS,),
      "TopK reports negative activations"),
    M("sae-topk-k-plus-one", "sae", SAE,
      "top = torch.topk(pre, k=min(int(self.cfg.k), self.d_sae), dim=-1)",
      "top = torch.topk(pre, k=min(int(self.cfg.k) + 1, self.d_sae), dim=-1)", (KINDS,),
      "TopK keeps one feature too many"),
    M("sae-b-dec-not-subtracted", "sae", SAE,
      "return x_normed - self.b_dec if self.cfg.apply_b_dec_to_input else x_normed",
      "return x_normed", (KINDS,), "apply_b_dec_to_input is ignored"),
    M("sae-scale-not-undone", "sae", SAE, "return x * s, NormState(1.0 / s)",
      "return x * s, NormState(1.0)", (KINDS,), "`scale` SAEs decode in SAE units"),
    M("sae-constant-norm-no-sqrt-d", "sae", SAE,
      "factor = math.sqrt(self.d_in) / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)",
      "factor = 1.0 / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)", (KINDS,),
      "constant_norm_rescale scales to norm 1, not sqrt(d_in)"),
    M("sae-layer-norm-biased-std", "sae", SAE, "std = xc.std(dim=-1, keepdim=True)",
      "std = xc.std(dim=-1, keepdim=True, unbiased=False)", (KINDS,),
      "layer_norm SAEs use a different std from SAELens and OpenAI"),
    M("sae-layer-norm-mean-lost", "sae", SAE,
      "return xc / (std + LAYER_NORM_EPS), NormState(std, mu)",
      "return xc / (std + LAYER_NORM_EPS), NormState(std, 0.0)", (KINDS,),
      "layer_norm SAEs decode without the mean"),
    M("sae-layer-norm-no-eps", "sae", SAE,
      "return xc / (std + LAYER_NORM_EPS), NormState(std, mu)",
      "return xc / std, NormState(std, mu)", (KINDS,),
      "quiet vectors (near BOS) encode differently from SAELens"),
    M("sae-subset-not-normalised", "sae", SAE,
      "        xn, _ = self.normalise(x)\n        xs = self._sae_input(xn)\n        W = ",
      "        xn = x\n        xs = self._sae_input(xn)\n        W = ", (KINDS,),
      "readout and clamp of normalised non-TopK SAEs skip the normalisation"),
    M("sae-decoder-rows-unscaled", "sae", SAE,
      "return scale.unsqueeze(-2) * rows  # [..., 1, 1] * [n, d] -> [..., n, d]",
      "return rows", (KINDS,), "per-token normalised clamps move by SAE units"),
    M("sae-model-space-scale-inverted", "sae", SAE, "return 1.0 / self.cfg.input_scale",
      "return self.cfg.input_scale", (KINDS,), "add on `scale` SAEs scales the wrong way"),

    # ---- sampling ----------------------------------------------------------------------
    M("sample-top-p-skipped", "sampling", G, "scores = _top_p_filter(scores, self.top_p)",
      "scores = scores", (SAMPLING,), "top-p does nothing"),
    M("sample-top-p-drops-the-crossing-token", "sampling", G,
      "drop = cumulative - sorted_scores.softmax(dim=-1) >= top_p",
      "drop = cumulative >= top_p", (SAMPLING,), "top-p keeps one token too few"),
    M("sample-temperature-multiplies", "sampling", G, "scores = scores / self.t",
      "scores = scores * self.t", (SAMPLING,), "low temperatures flatten instead of sharpen"),
    M("sample-penalty-inverted", "sampling", G,
      "penalised = torch.where(scores > 0, scores / self.penalty, scores * self.penalty)",
      "penalised = torch.where(scores > 0, scores * self.penalty, scores / self.penalty)",
      (SAMPLING,), "the repetition penalty rewards repeats"),
    M("sample-penalty-forgets-picks", "sampling", G,
      "self.seen.scatter_(1, tokens.unsqueeze(1), True)", "self.seen.any()", (SAMPLING,),
      "generated tokens are never penalised"),
    M("sample-penalty-ignores-prompt", "sampling", G,
      "self.seen[:, prompt_ids[prompt_ids < vocab]] = True",
      "self.seen[:, prompt_ids[prompt_ids < 0]] = True", (SAMPLING,),
      "prompt tokens are never penalised"),
    M("sample-noise-per-row", "sampling", G,
      "u = torch.rand(self.vocab, generator=self.generator, device=scores.device)",
      "u = torch.rand(scores.shape, generator=self.generator, device=scores.device)",
      (SAMPLING,), "rows stop sharing noise: differences stop meaning steering"),
    M("sample-seed-none-fixed", "sampling", G, "else int(time.time_ns() % (2 ** 31)))",
      "else 0)", (SAMPLING,), "'no seed' gives the same text every time"),
    M("sample-logprob-of-scores", "sampling", G,
      "return tokens, logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)",
      "return tokens, torch.log_softmax(scores, -1).gather(1, tokens.unsqueeze(1)).squeeze(1)",
      (SAMPLING,), "probabilities shown are of the filtered, penalised scores"),
    M("sample-greedy-ignores-penalty", "sampling", G, "tokens = scores.argmax(dim=-1)",
      "tokens = logits.argmax(dim=-1)", (SAMPLING,),
      "the repetition penalty does nothing at temperature 0"),

    # ---- stopping and text -------------------------------------------------------------
    M("stop-when-any-row-ends", "stopping", G, "if all(finished):", "if any(finished):",
      (ROWS,), "one row's end stops every column"),
    M("stop-rows-never-finish", "stopping", G, "finished[r] = newly_done[r]",
      "finished[r] = False", (ROWS,), "a row runs on past its end"),
    M("stop-eos-text-shown", "stopping", G,
      "piece = \"\" if newly_done[r] else decoders[r].push(tid)",
      "piece = decoders[r].push(tid)", (ROWS,), "the end token's text appears in the column"),
    M("stop-at-eos-flag-ignored", "stopping", G,
      "eos = _eos_ids(session) if request.stop_at_eos else set()", "eos = _eos_ids(session)",
      (ROWS,), "benchmarks that must run N tokens stop at EOS"),
    M("stop-step-count-off-by-one", "stopping", G,
      "                reason = \"eos\"\n                step += 1",
      "                reason = \"eos\"\n                step += 0", (ROWS,),
      "the step count is one short when every row ended"),
    M("text-no-utf8-holdback", "stopping", G, "if full.endswith(\"\\ufffd\"):", "if False:",
      (ROWS,), "half characters show as replacement marks"),

    # ---- shared prompt pass ------------------------------------------------------------
    M("prefill-never-shared", "prefill", G, "if shared and rows > 1:", "if False:", PREFILL,
      "the prompt runs once per row: the optimisation is gone"),
    M("prefill-expanded-view", "prefill", G,
      "return t.expand(rows, *t.shape[1:]).contiguous()", "return t.expand(rows, *t.shape[1:])",
      PREFILL, "GPT-2 with an MLP-output SAE falls back to the slow pass"),
    M("prefill-silent-fallback", "prefill", G, "_fell_back(forward.model, reason)",
      "reason = reason", PREFILL, "a fallback is neither logged nor counted"),
    M("prefill-cache-not-widened", "prefill", G,
      "setattr(layer, name, t.repeat(rows, *([1] * (t.dim() - 1))))", "pass", PREFILL,
      "the cache of the layers before the hook keeps one row"),
    M("forward-old-cache-name", "prefill", G,
      "self.cache_arg = \"cache\" if \"cache\" in params else \"past_key_values\"",
      "self.cache_arg = \"past_key_values\"", (ROWS,),
      "a FutureWarning at every decoding step on transformers 5.2x"),
    M("forward-logits-for-every-prompt-position", "prefill", G,
      "self.keep = {\"logits_to_keep\": 1} if \"logits_to_keep\" in params else {}",
      "self.keep = {}", PREFILL, "the prompt's pass computes [rows, prompt, vocab] logits"),
    M("hook-resid-pre-read-as-output", "prefill", "steerdesk/engine/hooks.py",
      "return HookPoint(name, b, \"input\", layer, f\"input of {path}[{layer}]\")",
      "return HookPoint(name, b, \"output\", layer, f\"input of {path}[{layer}]\")",
      ("tests/engine/test_hooks.py",), "resid_pre SAEs read the block's output"),

    # ---- catalog values ----------------------------------------------------------------
    M("catalog-promoted-without-final-norm", "catalog", "steerdesk/engine/catalog/build.py",
      "rows = norm(rows) - zero", "rows = rows", (CAT_VALUES,),
      "promoted tokens ignore the final norm's gain"),
    M("catalog-promoted-norm-bias-kept", "catalog", "steerdesk/engine/catalog/build.py",
      "rows = norm(rows) - zero", "rows = norm(rows)", (CAT_VALUES,),
      "every feature promotes the final norm's bias"),
    M("catalog-suppressed-are-promoted", "catalog", "steerdesk/engine/catalog/build.py",
      "bot = logits.topk(n, dim=1, largest=False)", "bot = logits.topk(n, dim=1, largest=True)",
      (CAT_VALUES,), "suppressed tokens list the promoted ones"),
    M("catalog-mean-pool-is-max", "catalog", "steerdesk/engine/catalog/search.py",
      "return a.max(dim=0).values if by == \"max\" else a.mean(dim=0)",
      "return a.max(dim=0).values", (CAT_VALUES,), "ranking by mean ranks by max"),
    M("catalog-pool-counts-special-tokens", "catalog", "steerdesk/engine/catalog/search.py",
      "    a = acts[keep]\n", "    a = acts\n", (CAT_VALUES,), "BOS activations are evidence"),
    M("catalog-mean-over-all-tokens", "catalog", "steerdesk/engine/catalog/build.py",
      "\"mean_act\": (acc.total.cpu() / on.clamp_min(1).double()).float(),",
      "\"mean_act\": (acc.total.cpu() / max(1, tokens_seen)).float(),", (CAT_VALUES,),
      "the catalog's mean counts the tokens where a feature is off"),

    # ---- CLI options -------------------------------------------------------------------
    M("cli-mode-ignored", "cli", "steerdesk/cli/generate.py",
      "variants = [parse_spec(s, args.mode, args.unit) for s in args.steer]",
      "variants = [parse_spec(s, \"add\", args.unit) for s in args.steer]", (CLI,),
      "--mode clamp/ablate adds"),
    M("cli-positions-ignored", "cli", "steerdesk/cli/generate.py",
      "top_k_features=args.top_k, positions=args.positions)",
      "top_k_features=args.top_k, positions=\"all\")", (CLI,), "--positions is ignored"),
    M("cli-top-k-ignored", "cli", "steerdesk/cli/generate.py",
      "top_k_features=args.top_k, positions=args.positions)",
      "top_k_features=0, positions=args.positions)", (CLI,), "--top-k lists nothing"),
    M("cli-preset-ignored", "cli", "steerdesk/cli/generate.py",
      "variants.append(_preset_spec(args.preset, session.sae_path))",
      "variants.extend([])", (CLI,), "--preset adds no variant", owner="arch-refactor"),
    M("cli-chat-ignored", "cli", "steerdesk/cli/generate.py",
      "repetition_penalty=args.repetition_penalty, chat=args.chat, watch=watch,",
      "repetition_penalty=args.repetition_penalty, chat=False, watch=watch,", (CLI,),
      "--chat does not apply the template"),
    M("cli-seed-ignored", "cli", "steerdesk/cli/generate.py",
      "temperature=args.temperature, top_p=args.top_p, seed=args.seed,",
      "temperature=args.temperature, top_p=args.top_p, seed=0,", (CLI,), "--seed is ignored"),
    M("cli-json-top-k-cut", "cli", "steerdesk/cli/generate.py",
      "item[\"top_features\"] = [[i, v] for i, v in t.top_features]",
      "item[\"top_features\"] = [[i, v] for i, v in t.top_features[:1]]", (CLI,),
      "the JSON lists one top feature per generated token"),
    M("cli-json-prompt-top-k-wrong-row", "cli", "steerdesk/cli/generate.py",
      "item[\"top_features\"] = [[i, v] for i, v in prompt.top_features[0][pos]]",
      "item[\"top_features\"] = [[i, v] for i, v in prompt.top_features[-1][pos]]", (CLI,),
      "the prompt's top features come from the last steered row, not the baseline"),
    M("cli-inspect-by-ignored", "cli", "steerdesk/cli/inspect.py",
      "ranked = features_on_text(session, args.text, args.top, args.by)",
      "ranked = features_on_text(session, args.text, args.top, \"max\")", (CLI,),
      "inspect --by mean ranks by max", owner="arch-refactor"),

    # ---- the worker (ui/worker.py): the UI branch rewrites this file and brings the tests
    M("worker-cancel-drops-other-kinds", "worker", "steerdesk/ui/worker.py",
      "            if job is not None and job.kind == kind:\n                job.cancel()",
      "            if job is not None and job.kind != kind:\n                job.cancel()",
      UI_WORKER, "cancelling a run cancels queued jobs of other kinds", owner="ui-refactor"),
    M("worker-cancel-spares-the-running-job", "worker", "steerdesk/ui/worker.py",
      "if self._current is not None and self._current.kind == kind:",
      "if self._current is not None and self._current.kind != kind:", UI_WORKER,
      "Stop does not stop the running generation", owner="ui-refactor"),
    M("worker-runs-cancelled-jobs", "worker", "steerdesk/ui/worker.py",
      "            if job.cancelled:\n                self.job_done.emit(job.id, job.kind, None)",
      "            if False:\n                self.job_done.emit(job.id, job.kind, None)",
      UI_WORKER, "a cancelled queued job still runs", owner="ui-refactor"),
    M("worker-failure-reported-as-done", "worker", "steerdesk/ui/worker.py",
      "self.job_failed.emit(job.id, job.kind, exc, traceback.format_exc())",
      "self.job_done.emit(job.id, job.kind, None)", UI_WORKER,
      "a failed job looks finished: no error dialog", owner="ui-refactor"),
    M("worker-stop-leaves-the-job-running", "worker", "steerdesk/ui/worker.py",
      "            if self._current is not None:\n                self._current.cancel()\n"
      "        self._queue.put(None)",
      "            if self._current is not None:\n                pass\n"
      "        self._queue.put(None)", UI_WORKER,
      "closing the window waits for the generation to finish", owner="ui-refactor"),
    M("worker-job-never-cancelled", "worker", "steerdesk/ui/worker.py",
      "return self.cancel_event.is_set()", "return False", UI_WORKER,
      "no job can be cancelled", owner="ui-refactor"),
]
