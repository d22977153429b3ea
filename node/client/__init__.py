"""The client: tokenizes, embeds and samples locally; drives a route of spans.

- ``local``     ``ClientModel``: tokenizer, embeddings, final norm, head
- ``generate``  ``generate_tokens`` / ``chat`` over any ``Route``; ``SamplingParams``
"""

from node.client.generate import SamplingParams, chat, generate_tokens
from node.client.local import ClientModel

__all__ = ["ClientModel", "SamplingParams", "chat", "generate_tokens"]
