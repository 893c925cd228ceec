"""The generated items as :class:`Item` objects: names, tags, prices and texts over the arrays.

Each category has a name (a shop's, "jackets", for the first 20; then a pseudo-word),
adjectives and a tag vocabulary of pseudo-words; each collection has a name word and a tag
that all its items share. An item's text reads "<adjective> <collection> <category> <tags>",
e.g. "mirute kavo jackets tirabo nuke", so items of one collection are also similar by
content. About one item in ten is also tagged "sale".

>>> config = GeneratorConfig(n_items=30, n_categories=3)
>>> item = next(generate_items(config))[0]
>>> item.item_id, sorted(item.attributes)
('i0', ['category', 'collection', 'price', 'released_at', 'tags'])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from streamrec.datagen.catalogue import SyntheticCatalogue, build_catalogue
from streamrec.datagen.config import GeneratorConfig
from streamrec.datagen.words import unique_words
from streamrec.types import IntArray, Item

_STREAM = 5  # this module's own random stream: texts never shift the events
_SALE_STREAM = 6
_ADJECTIVES_PER_CATEGORY = 8
_TAGS_PER_CATEGORY = 12
# the first categories have a shop's names (the README's examples use them); beyond these,
# pseudo-words
SHOP_CATEGORIES = ("jackets", "coats", "shoes", "boots", "hats", "scarves", "gloves", "shirts",
                   "sweaters", "jeans", "trousers", "dresses", "skirts", "socks", "bags",
                   "belts", "sunglasses", "watches", "jewellery", "umbrellas")
SALE_TAG = "sale"  # tagged on about one item in ten (a boost example: boost=tags=sale:1.5)
_SALE_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    category_names: list[str]
    adjectives: list[str]  # category c owns [c * _ADJECTIVES_PER_CATEGORY, ...)
    tags: list[str]  # category c owns [c * _TAGS_PER_CATEGORY, ...)
    collection_names: list[str]


def generate_items(config: GeneratorConfig) -> Iterator[list[Item]]:
    """Every item ``"i0"``.. in index order, in chunks of ``chunk_size``; identical for the
    same configuration. ``attributes`` hold category, collection, tags, price and
    ``released_at`` (unix seconds: events never use an item before it); ``updated_at`` is the
    release time too."""
    catalogue = build_catalogue(config)
    rng = np.random.default_rng((config.seed, _STREAM))
    vocabulary = _vocabulary(config, catalogue, rng)
    n_collections = len(catalogue.collection_bounds) - 1
    collection_tag = rng.integers(0, _TAGS_PER_CATEGORY, n_collections)
    own_tag = rng.integers(0, _TAGS_PER_CATEGORY, catalogue.n_items)
    adjective = rng.integers(0, _ADJECTIVES_PER_CATEGORY, catalogue.n_items)
    # its own stream: drawing it never changes the other words and tags
    on_sale = np.random.default_rng((config.seed, _SALE_STREAM)).random(catalogue.n_items) \
        < _SALE_SHARE
    for first in range(0, catalogue.n_items, config.chunk_size):
        chunk = np.arange(first, min(first + config.chunk_size, catalogue.n_items))
        yield _items(catalogue, vocabulary, chunk, collection_tag, own_tag, adjective, on_sale)


def _vocabulary(
    config: GeneratorConfig, catalogue: SyntheticCatalogue, rng: np.random.Generator
) -> _Vocabulary:
    n_categories = config.n_categories
    n_adjectives = n_categories * _ADJECTIVES_PER_CATEGORY
    n_tags = n_categories * _TAGS_PER_CATEGORY
    n_collections = len(catalogue.collection_bounds) - 1
    words = unique_words(n_categories + n_adjectives + n_tags + n_collections, rng)
    cut_adjectives = n_categories + n_adjectives
    cut_tags = cut_adjectives + n_tags
    named = list(SHOP_CATEGORIES[:n_categories]) if n_categories <= len(SHOP_CATEGORIES) \
        else words[:n_categories]  # the words are drawn anyway: other words stay the same
    return _Vocabulary(
        category_names=named,
        adjectives=words[n_categories:cut_adjectives],
        tags=words[cut_adjectives:cut_tags],
        collection_names=words[cut_tags:],
    )


def _items(
    catalogue: SyntheticCatalogue,
    vocabulary: _Vocabulary,
    chunk: IntArray,
    collection_tag: IntArray,
    own_tag: IntArray,
    adjective: IntArray,
    on_sale: np.ndarray,
) -> list[Item]:
    items = []
    for item in chunk.tolist():
        category = int(catalogue.category[item])
        collection = int(catalogue.collection[item])
        tags = [
            vocabulary.tags[category * _TAGS_PER_CATEGORY + int(collection_tag[collection])],
            vocabulary.tags[category * _TAGS_PER_CATEGORY + int(own_tag[item])],
        ]
        tags = list(dict.fromkeys(tags))  # an item's own tag may repeat its collection's
        words = [
            vocabulary.adjectives[category * _ADJECTIVES_PER_CATEGORY + int(adjective[item])],
            vocabulary.collection_names[collection],
            vocabulary.category_names[category],
            *tags,
        ]
        if on_sale[item]:  # a tag, not a word of the text: being on sale is no likeness
            tags.append(SALE_TAG)
        released_at = float(catalogue.released_at[item])
        attributes = {
            "category": vocabulary.category_names[category],
            "collection": vocabulary.collection_names[collection],
            "tags": tags,
            "price": float(catalogue.price[item]),
            "released_at": released_at,
        }
        items.append(Item(f"i{item}", attributes, " ".join(words), True, released_at))
    return items
