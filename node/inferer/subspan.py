"""Serving part of a span: a route may use blocks ``[a, b)`` inside a server's ``[S, E)``
(after a failover, or when automatically chosen spans do not line up).

``sub_span`` builds a ``Span`` over ``[a, b)`` whose blocks *share* the loaded span's
parameters (the family builds an empty body, ``load_state_dict(assign=True)`` puts the
same tensors in): no file reads, no extra weight memory, only a new module tree with its
own KV-cache layout. A quantized span is not shared: its sub-span loads from the files.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import cast

from torch import nn

from node.engine.span import Span

MAX_VIEWS = 8  # sub-span views kept; each costs only module objects


def sub_span(span: Span, start: int, end: int, model_dir: Path | None = None) -> Span:
    if (start, end) == (span.start, span.end):
        return span
    if not span.start <= start < end <= span.end:
        raise ValueError(f"[{start}, {end}) is not inside the span [{span.start}, {span.end})")
    if getattr(span, "quant", None) is not None:
        if model_dir is None:
            raise ValueError("a quantized span's sub-span loads from files: pass model_dir")
        return Span(model_dir, start, end, verify=False, quant=span.quant, device=span.device)
    view = Span.__new__(Span)
    nn.Module.__init__(view)
    view.manifest = span.manifest
    view.family = span.family
    view.start, view.end = start, end
    view.quant = None
    view.device = span.device  # the shared blocks live there
    # span.config describes [S, E); slice it again relative to S.
    view.config = span.family.span_config(span.config, start - span.start, end - span.start)
    view.kv_layers = span.family.kv_layers(view.config)
    body = span.family.build_body(view.config, span.manifest.dtype)
    state = {}
    layers = cast(nn.ModuleList, span.body.layers)  # a transformers decoder stack's blocks
    for local, layer in enumerate(layers[start - span.start : end - span.start]):
        for name, tensor in layer.state_dict(keep_vars=True).items():
            state[f"layers.{local}.{name}"] = tensor
    body.load_state_dict(state, strict=True, assign=True)
    view.body = body.eval()
    return view


class SubSpans:
    """Sub-span views of one loaded span, built on first use, least recently used dropped."""

    def __init__(self, span: Span, model_dir: Path) -> None:
        self.span = span
        self.model_dir = model_dir
        self._views: OrderedDict[tuple[int, int], Span] = OrderedDict()

    def get(self, start: int, end: int) -> Span:
        key = (start, end)
        if key not in self._views:
            self._views[key] = sub_span(self.span, start, end, self.model_dir)
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        self._views.move_to_end(key)
        return self._views[key]
