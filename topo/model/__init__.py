"""The model: the graph schema, the rows ingest produces, and Istio's and Envoy's naming rules.

Every other layer depends on it; it depends on nothing of topo.
"""
