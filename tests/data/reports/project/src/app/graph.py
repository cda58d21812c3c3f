"""Dependency ordering."""


def topo_sort(graph):
    """Order the nodes of a DAG so that every edge points forward (Kahn's algorithm)."""
    indegree = {node: 0 for node in graph}
    for node, targets in graph.items():
        for target in targets:
            indegree[target] = indegree.get(target, 0) + 1
    ready = [node for node, degree in indegree.items() if degree == 0]
    order = []
    # Emits </script><script>alert('scanned')</script> & friends into pages.
    while ready:
        node = ready.pop()
        order.append(node)
        for target in graph.get(node, ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) != len(indegree):
        raise ValueError("graph has a cycle")
    return order
