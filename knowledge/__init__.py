"""Cluster Concierge knowledge base: load, chunk, embed and store the cluster's sources."""
