"""Generated items: ids, attributes consistent with the catalogue, texts that reflect structure."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from streamrec.datagen import GeneratorConfig, build_catalogue, generate_items
from streamrec.types import Item

CONFIG = GeneratorConfig(n_items=500, n_categories=6, chunk_size=200, seed=5)


def all_items(config: GeneratorConfig) -> list[Item]:
    return [item for chunk in generate_items(config) for item in chunk]


def test_every_item_once_in_index_order_in_chunks() -> None:
    chunks = list(generate_items(CONFIG))
    assert [len(chunk) for chunk in chunks] == [200, 200, 100]
    assert [item.item_id for chunk in chunks for item in chunk] == [f"i{n}" for n in range(500)]


def test_same_seed_same_items() -> None:
    assert all_items(CONFIG) == all_items(CONFIG)
    assert all_items(CONFIG) != all_items(CONFIG.model_copy(update={"seed": 6}))


def test_attributes_match_the_catalogue() -> None:
    catalogue = build_catalogue(CONFIG)
    items = all_items(CONFIG)
    names_of_category: dict[int, set[str]] = defaultdict(set)
    for index, item in enumerate(items):
        names_of_category[int(catalogue.category[index])].add(item.attributes["category"])
        assert item.attributes["released_at"] == catalogue.released_at[index] == item.updated_at
        assert item.attributes["price"] > 0
        assert 1 <= len([t for t in item.attributes["tags"] if t != "sale"]) <= 2
    # one distinct name per category
    assert all(len(names) == 1 for names in names_of_category.values())
    assert len({next(iter(names)) for names in names_of_category.values()}) == 6


def test_text_names_the_category_collection_and_tags() -> None:
    for item in all_items(CONFIG)[:50]:
        words = item.text.split()
        assert words[1] == item.attributes["collection"]
        assert words[2] == item.attributes["category"]
        assert words[3:] == [t for t in item.attributes["tags"] if t != "sale"]


def test_items_of_a_collection_share_a_tag_and_stay_in_one_category() -> None:
    catalogue = build_catalogue(CONFIG)
    items = all_items(CONFIG)
    for collection in range(len(catalogue.collection_bounds) - 1):
        members = np.flatnonzero(catalogue.collection == collection)
        assert len(set(catalogue.category[members].tolist())) == 1
        shared = set.intersection(*(set(items[m].attributes["tags"]) for m in members))
        assert shared


def test_categories_have_a_shops_names_and_some_items_are_on_sale() -> None:
    items = all_items(GeneratorConfig(n_items=2_000, seed=1))
    categories = {item.attributes["category"] for item in items}
    assert {"jackets", "coats"} <= categories and len(categories) == 20
    on_sale = sum("sale" in item.attributes["tags"] for item in items)
    assert 100 < on_sale < 300  # about one in ten
