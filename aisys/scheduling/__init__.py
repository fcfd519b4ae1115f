"""Lab 06 bench: graphs with costs, a device/link model, timelines and their renderings.

Everything a scheduler works on lives here: the cost graphs (built on the lab-01 `Graph`,
costs in node attrs), the devices and the link between them, the `Timeline` a scheduler
returns, real kernels for executing a graph, and Chrome-trace export.
"""
