"""linklab: a real, shapeable vehicle <-> remote network link between Linux network namespaces.

For multi-process tests and link benchmarks; plain Python (no rclpy), needs root.
"""

from edge_llm_ros.tools.linklab.lab import LinkLab, LinkLabError, netns_unavailable_reason
from edge_llm_ros.tools.linklab.profiles import PROFILES, LinkProfile

__all__ = ["PROFILES", "LinkLab", "LinkLabError", "LinkProfile", "netns_unavailable_reason"]
