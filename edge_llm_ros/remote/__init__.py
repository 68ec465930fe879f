"""The remote planner's core: scene rollouts over a short horizon, planned by a language
model, behind an admission queue that answers "busy" instead of queueing silently."""
