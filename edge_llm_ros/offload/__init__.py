"""On-board offload policy: link estimates, when to ask the remote planner, and a ledger
that gives every PlanRequest exactly one outcome. No rclpy here; the node is a thin shell."""
