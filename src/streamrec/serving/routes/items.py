"""The catalogue: items with attributes, text and availability."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from streamrec.serving.auth import require
from streamrec.serving.deps import EngineDep
from streamrec.serving.json_body import StrictJsonRoute
from streamrec.serving.list_options import FieldsQuery, listed_items, parse_fields
from streamrec.serving.schemas import (
    ErrorOut,
    ItemFields,
    ItemOut,
    ItemsFoundOut,
    ItemsIn,
    PathId,
    SimilarOut,
    UpsertedOut,
)
from streamrec.trust.keys import Scope
from streamrec.types import Item

# ids may hold '/' (the ``path`` converter): the '/similar' route comes before the item's own,
# and the id rule refuses ids ending in '/similar' (events/validation.py)
router = APIRouter(prefix="/v1/items", tags=["items"], route_class=StrictJsonRoute)


def _out(item: Item) -> ItemOut:
    return ItemOut(item_id=item.item_id, attributes=dict(item.attributes), text=item.text,
                   available=item.is_available)


@router.put("/{item_id:path}", response_model=ItemOut,
            dependencies=[require(Scope.INGEST)], responses={422: {"model": ErrorOut}})
def put_item(item_id: PathId, body: ItemFields, engine: EngineDep) -> ItemOut:
    """Create or change one item; fields left out keep their current value."""
    return _out(engine.update_item(item_id, body.attributes, body.text, body.available))


@router.post("", response_model=UpsertedOut,
             dependencies=[require(Scope.INGEST)], responses={422: {"model": ErrorOut}})
def post_items(body: ItemsIn, engine: EngineDep) -> UpsertedOut:
    """Create or replace many items at once."""
    now = time.time()
    items = [Item(i.item_id, i.attributes or {}, i.text or "",
                  True if i.available is None else i.available, now) for i in body.items]
    return UpsertedOut(upserted=engine.upsert_items(items))


@router.get("", response_model=ItemsFoundOut, dependencies=[require(Scope.READ)],
            responses={422: {"model": ErrorOut}})
def search_items(engine: EngineDep,
                 q: Annotated[str, Query(min_length=1, max_length=200, description="Text "
                                         "the item's id, text or a string attribute (e.g. "
                                         "its title) holds; case ignored.")],
                 limit: Annotated[int, Query(ge=1, le=200)] = 20) -> ItemsFoundOut:
    """Catalogue items found by id or text: the exact id first, then ids starting with `q`,
    then the others. Reads the whole catalogue: for people looking, not for serving pages."""
    return ItemsFoundOut(items=[_out(i) for i in engine.search_items(q, limit)])


@router.get("/{item_id:path}/similar", response_model=SimilarOut,
            dependencies=[require(Scope.READ)],
            responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
            response_model_exclude_unset=True)
def similar_items(item_id: PathId, engine: EngineDep,
                  k: Annotated[int, Query(ge=1, le=500, description="How many items.")] = 10,
                  fields: FieldsQuery = None) -> SimilarOut:
    found = engine.similar(item_id, k)
    return SimilarOut(items=listed_items(found, engine, parse_fields(fields)))


@router.get("/{item_id:path}", response_model=ItemOut,
            dependencies=[require(Scope.READ)], responses={404: {"model": ErrorOut}})
def get_item(item_id: PathId, engine: EngineDep) -> ItemOut:
    item = engine.get_item(item_id)
    assert item is not None
    return _out(item)
