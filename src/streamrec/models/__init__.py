"""Models: each learns from event batches and recommends or scores items for a query."""
