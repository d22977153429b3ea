"""The one KV-cache layout: per session, a transformers ``DynamicCache`` whose layers hold
keys and values of shape ``(1, kv_heads, tokens, head_dim)``; a sliding-window layer
keeps only its last ``window - 1`` tokens (exactly as transformers does, so a span's
cache is bit-for-bit the full model's).

For a batched step, session caches are stacked into one left-padded batch cache and
split back afterwards; the family's ``KVLayer`` list says how many tokens each layer
keeps, so nothing here depends on the family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from node.engine.errors import PositionMismatchError
from node.models.family import KVLayer


def new_cache(config: Any) -> Any:
    from transformers import DynamicCache

    return DynamicCache(config=config)


def kv_bytes(layers: Sequence[KVLayer], length: int, element_size: int) -> int:
    """Bytes the keys and values of ``length`` tokens take in these layers."""
    return (
        sum(2 * kv.kv_heads * kv.head_dim * kv.cached_tokens(length) for kv in layers)
        * element_size
    )


def _fill(layer: Any, keys: torch.Tensor, values: torch.Tensor, seen: int) -> None:
    """Make a transformers cache layer hold ``keys``/``values`` after ``seen`` tokens."""
    layer.lazy_initialization(keys, values)
    layer.keys, layer.values = keys, values
    layer.__dict__.pop(_BUFFER, None)  # the tensors may be shared: the next append copies
    if hasattr(layer, "cumulative_length"):  # sliding-window layer
        layer.cumulative_length = seen


# A layer grown by ``append_kv`` keeps its buffers here: (keys, values, tokens in use).
_BUFFER = "_helio_kv_buffer"
MIN_CAPACITY = 64  # tokens a fresh buffer holds at least


def append_kv(
    layer: Any, keys: torch.Tensor, values: torch.Tensor, max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Append a step's keys/values (1, kv_heads, T, head_dim) to a full-attention cache
    layer and return everything it holds, like transformers' ``DynamicLayer.update``
    but without copying the whole cache every token: the layer's ``keys``/``values``
    become views of the first ``n`` tokens of buffers with room to grow (capacity
    doubles, capped at the session's ``max_length``, so the memory stays within what the
    host reserved). The values are the same as ``torch.cat``'s.

    A layer only writes in place into buffers it allocated itself and whose tokens it
    still holds all of; after a fork, a rewind, a batched step or transformers' own
    update (anything that set ``keys`` without us) the next append copies into fresh
    buffers first, so tensors shared with another session are never written."""
    if not layer.is_initialized:
        layer.lazy_initialization(keys, values)
    old_k, old_v = layer.keys, layer.values
    held = old_k.shape[-2] if old_k.numel() else 0
    need = held + keys.shape[-2]
    buffer = layer.__dict__.get(_BUFFER)
    owned = (
        buffer is not None
        and buffer[2] == held
        and (held == 0 or buffer[0].data_ptr() == old_k.data_ptr())
        and need <= buffer[0].shape[-2]
    )
    if owned:
        buf_k, buf_v = buffer[0], buffer[1]
    else:
        capacity = min(max(2 * need, MIN_CAPACITY), max(max_length, need))
        shape = (keys.shape[0], keys.shape[1], capacity, keys.shape[3])
        buf_k = torch.empty(shape, dtype=keys.dtype, device=keys.device)
        buf_v = torch.empty(shape, dtype=values.dtype, device=values.device)
        if held:
            buf_k.narrow(2, 0, held).copy_(old_k)
            buf_v.narrow(2, 0, held).copy_(old_v)
    buf_k.narrow(2, held, need - held).copy_(keys)
    buf_v.narrow(2, held, need - held).copy_(values)
    layer.keys, layer.values = buf_k.narrow(2, 0, need), buf_v.narrow(2, 0, need)
    layer.__dict__[_BUFFER] = (buf_k, buf_v, need)
    return layer.keys, layer.values


def _stored(cache: Any, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    layer = cache.layers[index]
    if not layer.is_initialized or layer.keys is None or layer.keys.numel() == 0:
        return None
    return layer.keys, layer.values


def stack_caches(
    config: Any,
    layers: Sequence[KVLayer],
    caches: Sequence[Any],
    lengths: Sequence[int],
    dtype: torch.dtype,
) -> Any:
    """One batch cache holding every session's cache, left-padded with zeros to the
    longest; padded slots are hidden by the attention mask."""
    batch = new_cache(config)
    longest = max(lengths)
    if longest == 0:
        return batch
    device = next((stored[0].device for c in caches if (stored := _stored(c, 0)) is not None), None)
    for index, kv in enumerate(layers):
        size = kv.cached_tokens(longest)
        # on the device the sessions' caches live on (a GPU span keeps them there)
        keys = torch.zeros(len(caches), kv.kv_heads, size, kv.head_dim, dtype=dtype, device=device)
        values = torch.zeros_like(keys)
        for row, (cache, length) in enumerate(zip(caches, lengths, strict=True)):
            if length == 0:
                continue
            stored = _stored(cache, index)
            assert stored is not None, "a session with tokens must have a filled cache"
            count = kv.cached_tokens(length)
            keys[row, :, size - count :] = stored[0][0, :, -count:]
            values[row, :, size - count :] = stored[1][0, :, -count:]
        _fill(batch.layers[index], keys, values, longest)
    return batch


def split_cache(
    config: Any, layers: Sequence[KVLayer], batch: Any, lengths: Sequence[int]
) -> list[Any]:
    """The per-session caches inside a batch cache after a step; ``lengths`` are the
    sessions' new lengths. Real tokens are right-aligned in every row."""
    caches = [new_cache(config) for _ in lengths]
    for index, kv in enumerate(layers):
        stored = _stored(batch, index)
        assert stored is not None, "a batch cache is filled by the step that used it"
        keys, values = stored
        for row, (cache, length) in enumerate(zip(caches, lengths, strict=True)):
            count = kv.cached_tokens(length)
            _fill(
                cache.layers[index],
                keys[row : row + 1, :, keys.shape[2] - count :],
                values[row : row + 1, :, values.shape[2] - count :],
                length,
            )
    return caches


def fork_cache(config: Any, layers: Sequence[KVLayer], cache: Any, length: int) -> Any:
    """A second cache over the same tensors (steps replace tensors, never write into them)."""
    copy = new_cache(config)
    for index in range(len(layers)):
        stored = _stored(cache, index)
        if stored is not None:
            _fill(copy.layers[index], stored[0], stored[1], length)
    return copy


def can_rewind(layers: Sequence[KVLayer], length: int) -> bool:
    """A rollback is exact only while every layer still holds every token."""
    return all(kv.cached_tokens(length) == length for kv in layers)


def rewind_cache(layers: Sequence[KVLayer], cache: Any, length: int, position: int) -> None:
    """Drop the tokens at ``position`` and after (``position < length``)."""
    if not can_rewind(layers, length):
        raise PositionMismatchError(
            f"cannot roll back from {length} to {position} tokens: this span's sliding-window "
            "layers already dropped older tokens; open a new session and replay"
        )
    for index, layer in enumerate(cache.layers):
        stored = _stored(cache, index)
        if stored is not None:
            _fill(layer, stored[0][:, :, :position], stored[1][:, :, :position], position)
