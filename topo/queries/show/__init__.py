"""``topo show``: istioctl's ``proxy-config`` tables, drawn from the graph.

One module per table, as istioctl's writers are (``istioctl/pkg/writer/envoy/configdump/{listener,
route,cluster,endpoint}.go``): the same columns, the same filters (a dataclass each), the same sort
(:mod:`.gosort`, Go's ``sort.Slice`` replayed). :mod:`topo.export.tabwriter` lays a table out as
istioctl's text; ``-o json|yaml`` prints the table's ``resources``.
"""

from topo.queries.show.bootstrap import bootstrap_table, secret_table
from topo.queries.show.clusters import ClusterFilter, cluster_table
from topo.queries.show.common import Cell, ShowTable, resolve_pod
from topo.queries.show.endpoints import EndpointFilter, endpoint_status_table, endpoint_table
from topo.queries.show.listeners import ListenerFilter, listener_table
from topo.queries.show.routes import RouteFilter, route_table

__all__ = ["Cell", "ClusterFilter", "EndpointFilter", "ListenerFilter", "RouteFilter", "ShowTable", "bootstrap_table",
           "cluster_table", "endpoint_status_table", "endpoint_table", "listener_table", "resolve_pod", "route_table",
           "secret_table"]
