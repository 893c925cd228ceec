"""Ranking: features per candidate, an online logistic ranker, and the query-time rules."""
